"""The course's networks: ``gan`` (MLPs for toys, DCGAN), ``vae``, ``cyclegan``."""
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
