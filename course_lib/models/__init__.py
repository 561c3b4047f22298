"""The course's models: GANs (gan.py), VAEs (vae.py), CycleGAN (cyclegan.py)."""
