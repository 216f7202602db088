"""Every latent manifold on the branching data: default point shape, seconds per training epoch
(batch 128, all 6,350 samples) and the tree Pearson correlation after a short fit.

Timing: ``--time-epochs`` epochs on the full data, the first (warm-up) excluded. Correlation: a
fit of ``--epochs`` epochs on ``--n`` samples (noise σ = 1, geometry-aware, authors' form),
then Pearson between latent geodesic distances and tree distances (Stiefel: chordal, as
``pairwise_distances``). Short fits: a ranking of what works, not the paper's numbers.

    python benchmarks/bench_manifolds.py [--epochs 30] [--n 2000] [--time-epochs 3] [--names ...]

Seconds per epoch depend on the machine's load: rerun a subset with ``--names`` to compare rows
measured at different times.
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.data.branching import load_branching

DATA = "/work/shared/data/branching/tensordataset.npz"


def seconds_per_epoch(name, X, epochs):
    start = []
    model = R.RiemannianDecoder(manifold=name, epochs=1, noise_std=1.0, verbose=False)
    for _ in range(epochs):  # one fit per epoch, so setup is not counted
        model.fit(X)
        start.append(time.perf_counter())
    return float(np.diff(start).mean()) if epochs > 1 else float("nan")


def correlation(name, X, D_tree, epochs):
    model = R.RiemannianDecoder(manifold=name, epochs=epochs, noise_std=1.0, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", R.TrainingDiverged)  # reported as a failed row instead
        model.fit(X)
    return model, M.distance_correlation(model.latents_, model.manifold_, D_tree)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--time-epochs", type=int, default=3)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--names", nargs="+", default=R.GEOOPT_MANIFOLDS,
                        help="a subset of rgd_utils.GEOOPT_MANIFOLDS")
    args = parser.parse_args(argv)
    X, labels, _ = load_branching(args.data)
    idx = np.random.default_rng(0).choice(len(X), args.n, replace=False)
    D_tree = M.tree_distances(labels[idx])
    print(f"{'manifold':<26}{'shape':<12}{'dtype':<12}{'s/epoch':>9}{'pearson':>9}")
    for name in args.names:
        try:
            model, pearson = correlation(name, X[idx], D_tree, args.epochs)
            per_epoch = seconds_per_epoch(name, X, args.time_epochs)
            shape = " x ".join(map(str, model.latent_shape_))
            dtype = str(model.dtype_).removeprefix("torch.")
            print(f"{name:<26}{shape:<12}{dtype:<12}{per_epoch:>9.3f}{pearson:>9.3f}", flush=True)
        except Exception as err:  # a benchmark row, not a crash: say what failed
            print(f"{name:<26}failed: {type(err).__name__}: {err}", flush=True)


if __name__ == "__main__":
    main()
