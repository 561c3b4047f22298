"""Time our Fréchet distance against pytorch-fid's at 2,048 dimensions, in one run.

    python benchmarks/frechet.py [--dims 2048] [--repeats 3]

Prints both times, the speed ratio (target >= 4x) and the relative difference (target <= 1e-6).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from course_lib.figures import record_benchmark, start_trace
from course_lib.metrics.frechet import frechet_distance, pytorch_fid_frechet_distance


def random_gaussians(dims: int, n: int, seed: int = 0):
    """Two Gaussians estimated from ``n`` samples of correlated ``dims``-d features."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((dims, dims)) / np.sqrt(dims)
    a = rng.standard_normal((n, dims)) @ mix
    b = rng.standard_normal((n, dims)) @ (mix + 0.1 * rng.standard_normal((dims, dims)) / np.sqrt(dims)) + 0.05
    return a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)


def best_time(fn, repeats: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    start_trace()
    mu1, sigma1, mu2, sigma2 = random_gaussians(args.dims, args.samples)
    ours_s, ours = best_time(lambda: frechet_distance(mu1, sigma1, mu2, sigma2), args.repeats)
    print(f"dimensions {args.dims}, best of {args.repeats}")
    print(f"course_lib frechet_distance : {ours_s:8.3f} s   d² = {ours:.10g}")
    try:
        theirs_s, theirs = best_time(lambda: pytorch_fid_frechet_distance(mu1, sigma1, mu2, sigma2),
                                     args.repeats)
    except RuntimeError as exc:  # a SciPy that this pytorch-fid cannot run against
        print(f"pytorch-fid could not run here: {exc}")
        return
    print(f"pytorch-fid (scipy sqrtm)   : {theirs_s:8.3f} s   d² = {theirs:.10g}")
    print(f"speed ratio                 : {theirs_s / ours_s:8.1f} x   (target >= 4)")
    print(f"relative difference         : {abs(ours - theirs) / abs(theirs):8.1e}     (target <= 1e-6)")
    record_benchmark("frechet", {"config": f"{args.dims} dimensions", "seed": 0, "repeats": args.repeats,
                                 "ours_seconds": ours_s, "pytorch_fid_seconds": theirs_s,
                                 "speed_ratio": theirs_s / ours_s, "relative_difference": abs(ours - theirs) / abs(theirs)})


if __name__ == "__main__":
    main()
