"""Latent-dimension scaling on the branching data: seconds per epoch and whether training stayed
finite, for RGD on H^d (Lorentz) and S^d and for the Poincaré VAE baseline, d = 2, 5, 50, 500.

The paper (v2) reports RGD roughly flat in d and the P-VAE failing from 50-D on.

    python benchmarks/bench_latent_dim.py [--epochs 10] [--dims 2 5 50 500]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

import rgd_utils as R
from rgdkit.data import branching
from rgdkit.baselines import pvae


def rgd_run(X, manifold, dim, epochs):
    model = R.RiemannianDecoder(manifold=manifold, latent_dim=dim, noise_std=1.0, epochs=epochs,
                                curvature=5 if manifold == "lorentz" else None, verbose=False)
    model.fit(X)
    return bool(np.isfinite(model.history_["train_loss"]).all()
                and torch.isfinite(torch.as_tensor(model.latents_)).all())


def pvae_run(X, dim, epochs):
    model = pvae.PoincareVAE(latent_dim=dim, curvature=1.2, epochs=epochs, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", R.TrainingDiverged)  # reported in the table instead
        model.fit(X)
    return model.diverged_at_ is None and bool(np.isfinite(model.latents_).all())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 5, 50, 500])
    args = parser.parse_args(argv)
    X, _, source = branching.load_branching()
    X = X[: int(0.82 * len(X))]
    print(f"data: {source}; {len(X)} training samples; {args.epochs} epochs per run; "
          f"{torch.get_num_threads()} threads, device {R.pick_device()}")
    runs = {"RGD H^d": lambda d: rgd_run(X, "lorentz", d, args.epochs),
            "RGD S^d": lambda d: rgd_run(X, "sphere", d, args.epochs),
            "P-VAE B^d": lambda d: pvae_run(X, d, args.epochs)}
    rgd_run(X, "lorentz", 2, 1)  # warm-up: first-call costs (allocations, geoopt's jit) out of the timings
    print(f"{'model':10s} {'dim':>5s} {'s/epoch':>8s} {'finite':>7s}")
    for name, run in runs.items():
        for dim in args.dims:
            start = time.perf_counter()
            finite = run(dim)
            seconds = (time.perf_counter() - start) / args.epochs
            print(f"{name:10s} {dim:5d} {seconds:8.3f} {str(finite):>7s}", flush=True)


if __name__ == "__main__":
    main()
