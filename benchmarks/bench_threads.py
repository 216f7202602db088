"""Thread counts of a fit: the default (``n_threads=None``, chosen from the size of a step)
against each fixed count, for a small fit and an hmtDNA-sized one.

- small: 100 epochs of H² (σ = 1) on scanpy's bundled ``pbmc68k_reduced`` (700 cells x 50 PCs),
  on a quiet machine and beside one busy process (a core spinning in another process), before
  and after ``sc.pp.neighbors`` in the same process (numba's OpenMP layer may change torch's
  thread count);
- hmtDNA-sized: 3 epochs of H² (σ = 0.5, BCE) on 2,000 random binary genomes of 2,895 variants,
  the width of the notebooks' GenBank table, on a quiet machine.

Each line: seconds, and the ratio to the best fixed count of that row (the issue asks at most
1.5 beside a busy process and 1.2 for the hmtDNA-sized fit on a quiet machine).

    python benchmarks/bench_threads.py [--threads 1 2]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import warnings

import numpy as np
import torch

import rgd_utils as R


def spin():
    while True:
        pass


def pbmc():
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced()


def fit_seconds(X, n_threads, **settings):
    model = R.RiemannianDecoder(manifold="lorentz", curvature=1.0, min_epochs=0, verbose=False,
                                n_threads=n_threads, **settings)
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def row(label, X, counts, **settings):
    times = {n: fit_seconds(X, n, **settings) for n in counts}
    default = fit_seconds(X, None, **settings)
    best = min(times.values())
    fixed = ", ".join(f"{n} thread{'s' if n > 1 else ''} {s:.2f} s" for n, s in times.items())
    print(f"{label:48s} default {default:6.2f} s ({default / best:.2f} x best) | {fixed}",
          flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+",
                        default=sorted({1, torch.get_num_threads()}))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", R.PoorFit)  # the short hmtDNA-sized fits are timed, not used
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()} at start", flush=True)
    adata = pbmc()
    X_small = adata.obsm["X_pca"].astype(np.float32)
    small = dict(noise_std=1.0, epochs=100)
    rng = np.random.default_rng(0)
    X_wide = (rng.random((2000, 2895)) < 0.01).astype(np.float32)
    wide = dict(noise_std=0.5, epochs=3, loss="bce")
    fit_seconds(X_small, None, noise_std=1.0, epochs=2)  # warm-up
    row("pbmc68k_reduced, 100 epochs, quiet", X_small, args.threads, **small)
    row("hmtDNA-sized (2,000 x 2,895 BCE), 3 epochs, quiet", X_wide, args.threads, **wide)
    busy = multiprocessing.get_context("spawn").Process(target=spin, daemon=True)
    busy.start()
    try:
        row("pbmc68k_reduced, beside a busy process", X_small, args.threads, **small)
        import scanpy as sc

        sc.pp.neighbors(adata)
        print(f"after sc.pp.neighbors: torch threads {torch.get_num_threads()}", flush=True)
        row("pbmc68k_reduced, busy, after sc.pp.neighbors", X_small, args.threads, **small)
    finally:
        busy.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
