"""Speed of the Poincaré VAE baseline against the RGD estimator on the branching data: seconds
per epoch, samples/s and peak memory of each at the same batch size, and their ratio. Both fit
the training split with the validation split (early stopping off: every epoch runs).

    python benchmarks/bench_pvae.py [--epochs 10] [--batch-size 128] [--threads N]

On a shared machine ``--threads 1`` keeps torch's worker threads from waiting on each other.

Peak memory is the process's resident peak so far (ru_maxrss), so the second row includes the
first.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

import rgd_utils as R
from rgdkit.baselines.pvae import PoincareVAE
from rgdkit.data import branching
from rgdkit.data.splits import split_indices


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def models(epochs, batch_size):
    return {
        "P-VAE": PoincareVAE(epochs=epochs, batch_size=batch_size, patience=epochs,
                             verbose=False),
        "RGD": R.RiemannianDecoder(manifold="lorentz", curvature=5.0, epochs=epochs,
                                   min_epochs=0, batch_size=batch_size, verbose=False),
    }


def seconds_per_epoch(model, X_train, X_val):
    start = time.perf_counter()
    model.fit(X_train, X_val=X_val)
    return (time.perf_counter() - start) / len(model.history_["epoch"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    X, _, source = branching.load_branching()
    train, val, _ = split_indices(len(X), seed=0)
    X_train, X_val = X[train], X[val]
    print(f"data: {source}; {len(X_train)} training, {len(X_val)} validation samples; "
          f"batch {args.batch_size}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for model in models(1, args.batch_size).values():  # warm-up
        model.fit(X_train, X_val=X_val)
    print(f"{'model':6s} {'s/epoch':>8s} {'samples/s':>10s} {'peak MB':>8s}")
    seconds = {}
    for name, model in models(args.epochs, args.batch_size).items():
        seconds[name] = seconds_per_epoch(model, X_train, X_val)
        print(f"{name:6s} {seconds[name]:8.4f} {len(X_train) / seconds[name]:10.0f} "
              f"{peak_rss_mb():8.0f}")
    print(f"P-VAE / RGD time per epoch: {seconds['P-VAE'] / seconds['RGD']:.2f}x")


if __name__ == "__main__":
    main()
