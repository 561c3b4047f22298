"""Progress bars: tqdm's widget in a live notebook, its text bar where a notebook is executed to
be saved.

The runner (``make course``) sets ``COURSE_PROGRESS=text``: a saved notebook then shows each
bar's final line (the runner drops the intermediate redraws) instead of a widget that a page
without a kernel draws at 0 %.
"""
from __future__ import annotations

import os
import sys


def progress(iterable=None, **kwargs):
    """``tqdm(iterable, **kwargs)``: the notebook widget in Jupyter, plain text on standard
    output when ``COURSE_PROGRESS=text``."""
    if os.environ.get("COURSE_PROGRESS", "").strip().lower() == "text":
        from tqdm.std import tqdm

        kwargs = {"file": sys.stdout, "mininterval": 5.0, "ncols": 100, **kwargs}
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)
