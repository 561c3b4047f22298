"""course_lib: the helper package behind the image-generation course's notebooks."""
from .config import (by_budget, data_dir, get_budget, get_device, get_seed, results_dir, seed_everything,
                     setup_notebook)
from .data import get_toy, load_digits, load_images, load_torchvision, make_loader

__version__ = "0.1.0"
__all__ = ["by_budget", "data_dir", "get_budget", "get_device", "get_seed", "results_dir", "seed_everything",
           "setup_notebook", "get_toy", "load_digits", "load_images", "load_torchvision",
           "make_loader"]
