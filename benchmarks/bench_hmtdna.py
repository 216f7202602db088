"""Cost of one hmtDNA model at the paper's settings (Table 3: H² k = 5, BCE, batch 2048, up to
1,000 epochs with early stopping, 15 starts × 600 test-time steps) on the GenBank genomes beside
the project: seconds per epoch, samples/s, epochs until early stopping, test-time seconds, peak
memory, and what that makes one hmtDNA notebook's paper profile (its 15 fits: 3 rows × 3 seeds
and the 6-value σ sweep).

    python benchmarks/bench_hmtdna.py [--reference rsrs] [--samples 8000] [--sigma 0.5]
                                      [--epochs 1000] [--threads 1]

It reads the table the notebooks read (``RGD_HMTDNA_SOURCE``, default the GenBank table in
``../shared/data/hmtdna/``) and samples genomes as the notebook does on a CPU. The projection
assumes every fit costs what this one does; σ changes the epoch count, so it is a rough guide.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

import rgd_utils as R
from rgdkit.data import hmtdna
from rgdkit.data.splits import split_indices
from rgdkit.experiments import paper

FITS_PER_NOTEBOOK = 3 * 3 + 6  # Table 3: 3 rows x 3 seeds; the σ sweep: 6 values, seed 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", choices=("rsrs", "rcrs"), default="rsrs")
    parser.add_argument("--samples", type=int, default=hmtdna.CPU_SAMPLE_SIZE)
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=paper.HMTDNA_TRAINING["epochs"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    X, _, description = hmtdna.genbank_sample(args.reference, args.samples)
    train, val, test = split_indices(len(X), seed=0)
    print(f"data: {description}; {X.shape[0]} genomes x {X.shape[1]} variants; "
          f"train {len(train)}, test {len(test)}; {args.threads} thread(s)")
    model = R.RiemannianDecoder(manifold="lorentz", curvature=paper.HYPERBOLIC_K,
                                noise_std=args.sigma, seed=0, verbose=False,
                                **{**paper.HMTDNA_TRAINING, "epochs": args.epochs})
    start = time.perf_counter()
    model.fit(X[train], X_val=X[val])
    fit_seconds = time.perf_counter() - start
    epochs = len(model.history_["epoch"])
    start = time.perf_counter()
    model.transform(X[test])
    test_seconds = time.perf_counter() - start
    per_epoch = fit_seconds / epochs
    print(f"training: {epochs} epochs (best {model.best_epoch_}), {per_epoch:.2f} s per epoch, "
          f"{len(train) / per_epoch:,.0f} samples/s, {fit_seconds / 60:.1f} min")
    print(f"test-time latents: {len(test)} genomes x {model.n_starts} starts x "
          f"{model.test_epochs} steps, {test_seconds / 60:.1f} min")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    total = FITS_PER_NOTEBOOK * (fit_seconds + test_seconds) / 3600
    print(f"one hmtDNA notebook's paper profile at this cost: {FITS_PER_NOTEBOOK} fits, "
          f"about {total:.1f} h")


if __name__ == "__main__":
    main()
