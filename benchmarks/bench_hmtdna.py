"""Cost of the hmtDNA fits as a notebook runs them at the paper's settings (Table 3: H² k = 5,
BCE, batch 2048, up to 1,000 epochs with early stopping, 15 starts × 600 test-time steps) on the
GenBank genomes beside the project.

A notebook trains its H² models in batched groups (``fit_together``) split between worker
processes of one thread each: Table 3's two H² rows × 3 seeds are 2 workers × 3 stacked members,
as is the 6-value σ sweep, and the R² row's 3 seeds one more, smaller round. This script times one
such round: ``--workers`` processes, each fitting ``--members`` stacked members (seeds 0, 1, ...)
and their test-time latents. It prints wall time, seconds per epoch per group, samples/s over all
members, epochs until early stopping, test-time seconds, peak memory (this process and the
largest worker), and the notebook's fits projected from it (3 such rounds; σ changes the epoch
count, so a rough guide).

    python benchmarks/bench_hmtdna.py [--reference rsrs] [--samples 8000] [--sigma 0.5]
                                      [--epochs 1000] [--members 3] [--workers 2]

It reads the table the notebooks read (``RGD_HMTDNA_SOURCE``, default the GenBank table in
``../shared/data/hmtdna/``) and samples genomes as the notebook does on a CPU.
"""
from __future__ import annotations

import argparse
import resource
import time

import rgd_utils as R
from rgdkit.data import hmtdna
from rgdkit.data.splits import split_indices
from rgdkit.experiments import paper
from rgdkit.experiments.loop import _fit_chunk
from rgdkit.experiments.workers import run_tasks

ROUNDS_PER_NOTEBOOK = 3  # Table 3's H² rows, its R² row, the σ sweep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", choices=("rsrs", "rcrs"), default="rsrs")
    parser.add_argument("--samples", type=int, default=hmtdna.CPU_SAMPLE_SIZE)
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=paper.HMTDNA_TRAINING["epochs"])
    parser.add_argument("--members", type=int, default=3, help="stacked members per worker")
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    args = parser.parse_args(argv)

    X, _, description = hmtdna.genbank_sample(args.reference, args.samples)
    train, val, test = split_indices(len(X), seed=0)
    print(f"data: {description}; {X.shape[0]} genomes x {X.shape[1]} variants; "
          f"train {len(train)}, test {len(test)}; {args.workers} worker(s) x {args.members} "
          "stacked member(s), one thread each")
    settings = {**paper.HMTDNA_TRAINING, "epochs": args.epochs}
    chunks = [[R.RiemannianDecoder(manifold="lorentz", curvature=paper.HYPERBOLIC_K,
                                   noise_std=args.sigma, seed=w * args.members + m, verbose=False,
                                   **settings) for m in range(args.members)]
              for w in range(args.workers)]
    start = time.perf_counter()
    fitted = run_tasks(_fit_chunk, [(chunk, X[train], X[val], X[test]) for chunk in chunks],
                       args.workers)
    wall = time.perf_counter() - start
    members = [model for chunk_members, _ in fitted for model in chunk_members]
    epochs = [len(model.history_["epoch"]) for model in members]
    fit_seconds = max(model.fit_seconds_ for model in members)
    per_epoch = fit_seconds / max(epochs)
    print(f"training: epochs {min(epochs)}-{max(epochs)} (early stopping), "
          f"{per_epoch:.2f} s per epoch per group of {args.members}, "
          f"{len(members) * len(train) / per_epoch:,.0f} samples/s over all members, "
          f"{fit_seconds / 60:.1f} min")
    print(f"test-time latents: {len(test)} genomes x {members[0].n_starts} starts x "
          f"{members[0].test_epochs} steps per member, {(wall - fit_seconds) / 60:.1f} min")
    peak = {who: resource.getrusage(getattr(resource, f"RUSAGE_{who}")).ru_maxrss / 1024
            for who in ("SELF", "CHILDREN")}
    print(f"wall time of the round: {wall / 60:.1f} min; peak memory {peak['SELF']:.0f} MB in "
          f"this process, {peak['CHILDREN']:.0f} MB in the largest worker")
    print(f"one hmtDNA notebook's fits at this cost: {ROUNDS_PER_NOTEBOOK} rounds, about "
          f"{ROUNDS_PER_NOTEBOOK * wall / 60:.0f} min")


if __name__ == "__main__":
    main()
