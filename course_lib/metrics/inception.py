"""pytorch-fid's InceptionV3, for the Inception protocol of FID and IS.

The network is pytorch-fid's own (``pytorch_fid.inception.InceptionV3``, with its input
resizing to 299x299 and scaling to [-1, 1]); this module only adds the logits of its final
layer for the Inception Score, and one clear error when the weights cannot be had.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


def fid_weights_path() -> Path:
    """Where PyTorch keeps pytorch-fid's weights once downloaded (torch hub's cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def _fid_state_dict() -> dict[str, torch.Tensor]:
    """pytorch-fid's Inception weights: from the cache, else downloaded; else a clear error."""
    from pytorch_fid.inception import FID_WEIGHTS_URL

    path = fid_weights_path()
    try:
        if path.is_file():
            return torch.load(path, map_location="cpu", weights_only=True)
        return torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=True, map_location="cpu")
    except Exception as exc:
        raise RuntimeError(
            f"pytorch-fid's Inception weights could not be loaded ({type(exc).__name__}: {exc}).\n"
            f"Download {WEIGHTS_NAME} from {FID_WEIGHTS_URL}\n"
            f"and put it at {path} (delete a partial file there first). Offline, use "
            f"protocol='digits'.") from exc


def _random_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Randomly initialised weights of the same shapes (pytorch-fid's blocks only change
    forward passes, not parameters): for tests that must run offline."""
    from torchvision.models import inception_v3

    torch.manual_seed(seed)
    return inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True).state_dict()


class InceptionNetwork(nn.Module):
    """Images ``(B, 3, H, W)`` in [0, 1] -> pool3 features ``(B, 2048)`` and class
    probabilities ``(B, 1008)`` of pytorch-fid's InceptionV3 (always in eval mode)."""

    def __init__(self, random_weights: bool = False, seed: int = 0):
        super().__init__()
        import pytorch_fid.inception as pytorch_fid_inception

        state = _random_state_dict(seed) if random_weights else _fid_state_dict()
        # pytorch-fid builds its network by downloading the weights; hand it ours instead.
        original_loader = pytorch_fid_inception.load_state_dict_from_url
        pytorch_fid_inception.load_state_dict_from_url = lambda *args, **kwargs: state
        try:
            self.net = pytorch_fid_inception.InceptionV3(
                [pytorch_fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
                resize_input=True, normalize_input=True, use_fid_inception=True)
        finally:
            pytorch_fid_inception.load_state_dict_from_url = original_loader
        self.fc = nn.Linear(2048, 1008)
        self.fc.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
        self.eval()

    def train(self, mode: bool = True):  # feature networks always run in eval mode
        return super().train(False)

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool features ``(B, 2048)`` and class probabilities ``(B, 1008)`` in one pass."""
        features = self.net(x)[0].flatten(1)
        return features, self.fc(features).softmax(dim=1)
