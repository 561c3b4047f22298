"""Training: one loop for every model (``loop``), and per model family its step and trainer.

* :mod:`.loop` -- ``run_loop``: resume, checkpoints, progress, time limit, NaN guard, history,
  weight averages, hooks; ``ema_update``, ``sample_images``.
* :mod:`.gan` -- ``gan_step`` and ``train_gan`` (lessons 02, 03).
* :mod:`.vae` -- ``negative_elbo_loss`` and ``train_vae`` (lesson 04).
* :mod:`.cyclegan` -- ``generator_losses``, ``discriminator_losses``, ``ImagePool`` and
  ``train_cyclegan`` (lesson 05).
"""
from .cyclegan import CycleGANConfig, ImagePool, discriminator_losses, generator_losses, linear_decay, train_cyclegan
from .gan import GANConfig, GANRun, discriminator_memorisation, gan_step, recompute_batch_norm, train_gan
from .loop import LoopConfig, TrainingRun, ema_update, run_loop, sample_images
from .vae import VAEConfig, binarize, negative_elbo, negative_elbo_loss, train_vae

__all__ = ["CycleGANConfig", "ImagePool", "discriminator_losses", "generator_losses", "linear_decay",
           "train_cyclegan", "GANConfig", "GANRun", "discriminator_memorisation", "gan_step", "recompute_batch_norm", "train_gan", "LoopConfig", "TrainingRun",
           "ema_update", "run_loop", "sample_images", "VAEConfig", "binarize", "negative_elbo",
           "negative_elbo_loss", "train_vae"]
