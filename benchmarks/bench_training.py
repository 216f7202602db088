"""Speed and memory of RGD training on the branching data: prints seconds per epoch, samples
per second and peak memory per manifold, and the time of a 5,000-point distance matrix.

    python benchmarks/bench_training.py [--epochs 20] [--batch-size 128]
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

import rgd_utils as R
from rgdkit.data import branching
import rgdkit.metrics as M


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_training(X, manifold, sigma, epochs, batch_size):
    model = R.RiemannianDecoder(manifold=manifold, curvature=5 if manifold == "lorentz" else None,
                                noise_std=sigma, epochs=epochs, batch_size=batch_size, verbose=False)
    start = time.perf_counter()
    model.fit(X)
    seconds = (time.perf_counter() - start) / epochs
    return seconds, len(X) / seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    X, _, source = branching.load_branching()
    X = X[: int(0.82 * len(X))]
    print(f"data: {source}; {len(X)} training samples; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {R.pick_device()}")
    time_training(X, "lorentz", 1.0, 2, args.batch_size)  # warm-up
    print(f"{'manifold':10s} {'sigma':>5s} {'s/epoch':>8s} {'samples/s':>10s} {'peak MB':>8s}")
    for manifold, sigma in [("lorentz", 0.0), ("lorentz", 1.0), ("poincare", 1.0),
                            ("euclidean", 1.0), ("sphere", 1.0), ("torus", 1.0)]:
        seconds, rate = time_training(X, manifold, sigma, args.epochs, args.batch_size)
        print(f"{manifold:10s} {sigma:5.1f} {seconds:8.4f} {rate:10.0f} {peak_rss_mb():8.0f}")
    m = R.make_manifold("lorentz", curvature=5)
    Z = R.random_points(m, 5000, 2, std=2.0)
    start = time.perf_counter()
    M.pairwise_distances(Z, m)
    print(f"pairwise distances, 5000 points on H²: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
