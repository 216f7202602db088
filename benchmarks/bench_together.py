"""Our training against the authors' own loop, on the branching data (H², k = 5, σ = 1, the
paper's Table 2 settings): seconds per epoch per model for one model and for M seeds, ours alone,
together in one process and split between one-thread worker processes, theirs one run after the
other; where our epoch's time goes; and the test-time latents alone and together.

    python benchmarks/bench_together.py --authors-dir PATH [--epochs 30] [--members 5]
    python benchmarks/bench_together.py --profile       # where one epoch of ours goes

``--authors-dir`` is a checkout of the authors' public repository
(yhsure/riemannian-generative-decoder; never part of this repository): their ``_train.py``'s
``train_rgd`` trains their notebook's model (an MLP with SiLU, float64 by default, as their
notebooks set it; latents from ``init_samples``), loaded from that folder, with the notebook's
DataLoader of 128 and learning rates [0.1, 2e-3]. Each timing runs in a fresh process, theirs at
torch's default thread count and at one thread (the faster is the one compared against).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import multiprocessing
import sys
import time
from pathlib import Path

import torch

import rgd_utils as R
from rgdkit.data import branching
from rgdkit.data.splits import split_indices
from rgdkit.experiments import paper
from rgdkit.experiments.workers import run_tasks, split_evenly

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "branching" / "tensordataset.npz"


def settings(epochs, seed=0):
    return dict(paper.table("branching_table2").training, manifold="lorentz", curvature=5.0,
                noise_std=1.0, epochs=epochs, min_epochs=0, seed=seed, verbose=False)


def branching_split():
    X, _, _ = branching.load_branching(str(DATA) if DATA.exists() else None)
    train, val, test = split_indices(len(X), seed=0)
    return X[train], X[val], X[test]


def ours(epochs, seeds, threads=None):
    """Seconds to fit ``seeds`` together (construction and data loading not counted)."""
    X, X_val, _ = branching_split()
    if threads is not None:
        torch.set_num_threads(threads)
    models = [R.RiemannianDecoder(**settings(epochs, seed)) for seed in seeds]
    start = time.perf_counter()
    R.fit_together(models, X, X_val)
    return time.perf_counter() - start


def ours_in_workers(epochs, members, workers):
    """The slowest of ``workers`` one-thread processes fitting their share of the seeds."""
    chunks = split_evenly(range(members), workers)
    return max(run_tasks(ours, [(epochs, seeds, 1) for seeds in chunks], workers))


def authors(authors_dir, epochs, runs, threads=None):
    """Seconds of ``runs`` of the authors' ``train_rgd``, one after the other, as their
    branching notebook trains (its model class re-created here; their loop imported)."""
    from torch import nn
    from torch.nn import functional as F
    import geoopt

    spec = importlib.util.spec_from_file_location("authors_train", Path(authors_dir) / "_train.py")
    train_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_module)
    X, X_val, _ = branching_split()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float64)  # as their notebooks

    class Nodes(torch.utils.data.Dataset):  # their notebook's dataset: (index, row, index)
        def __init__(self, data):
            self.data = torch.tensor(data, dtype=torch.float64)

        def __len__(self):
            return len(self.data)

        def __getitem__(self, index):
            return index, self.data[index], index

    class RGD(nn.Module):  # their notebook's model
        def __init__(self, dims, manifold):
            super().__init__()
            self.manifold = manifold
            self.origin = manifold.origin(dims[0])
            layers = []
            for i in range(len(dims) - 1):
                layers.append(nn.Linear(dims[i], dims[i + 1]))
                if i != len(dims) - 2:
                    layers.append(nn.SiLU())
            self.decoder = nn.Sequential(*layers)

        def forward(self, z):
            return self.decoder(z)

        def init_samples(self, n):
            z = self.manifold.projx(-torch.ones(n, self.origin.shape[-1]) * self.origin)
            return geoopt.ManifoldParameter(z, manifold=self.manifold, requires_grad=True)

    loader = torch.utils.data.DataLoader(Nodes(X), batch_size=128, shuffle=True)
    val_loader = torch.utils.data.DataLoader(Nodes(X_val), batch_size=128, shuffle=False)
    start = time.perf_counter()
    for seed in range(runs):
        torch.manual_seed(seed)
        model = RGD([3, 16, 32, 64, 128, 256, X.shape[1]], geoopt.Lorentz(k=5.0))
        model.z, model.z_val = model.init_samples(len(X)), model.init_samples(len(X_val))
        train_module.train_rgd(model, F.mse_loss, loader, val_loader, [0.1, 2e-3],
                               betas=(0.9, 0.995), n_epochs=epochs, patience=85,
                               start_saving=150, wd=1e-3, noise_std=1.0,
                               print_loss_step=10 ** 9)
    return time.perf_counter() - start


def fresh(fn, *args):
    """``fn(*args)`` in a fresh process (their default dtype and thread settings stay there)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(fn, *args).result()


def speed(args):
    per_epoch = lambda seconds, models: seconds / args.epochs / models
    m, w = args.members, args.workers
    rows = {"ours: one model": per_epoch(fresh(ours, args.epochs, [0]), 1),
            f"ours: {m} together": per_epoch(fresh(ours, args.epochs, list(range(m))), m),
            f"ours: {m} together, {w} workers": per_epoch(fresh(ours_in_workers, args.epochs,
                                                                 m, w), m)}
    if args.authors_dir:
        for threads in (None, 1):
            label = f"{torch.get_num_threads()} threads" if threads is None else "1 thread"
            rows[f"authors: one run, {label}"] = per_epoch(
                fresh(authors, args.authors_dir, args.epochs, 1, threads), 1)
            rows[f"authors: {m} runs, {label}"] = per_epoch(
                fresh(authors, args.authors_dir, args.epochs, m, threads), m)
    print(f"{'run':40s} {'s/epoch/model':>13s}")
    for label, seconds in rows.items():
        print(f"{label:40s} {seconds:13.4f}")
    if args.authors_dir:
        best = lambda runs: min(v for k, v in rows.items() if k.startswith(f"authors: {runs}"))
        print(f"one model: ours {best('one') / rows['ours: one model']:.1f} x faster than theirs")
        for label in (f"ours: {m} together", f"ours: {m} together, {w} workers"):
            print(f"{label}: {best(str(m)) / rows[label]:.1f} x faster than {m} of their runs")


MATRIX_PRODUCTS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm")


def profile(epochs):
    """Where the time of ``epochs`` epochs of one model goes (torch's profiler, self CPU time),
    and the matrix products' share: the floor a faster loop of the same model could reach."""
    X, X_val, _ = branching_split()
    model = R.RiemannianDecoder(**settings(epochs))
    R.RiemannianDecoder(**settings(1)).fit(X, X_val=X_val)  # warm-up
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        model.fit(X, X_val=X_val)
        wall = time.perf_counter() - start
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    products = sum(e.self_cpu_time_total for e in events if e.key in MATRIX_PRODUCTS) / 1e6
    print(f"{epochs} epochs: {wall:.2f} s wall (under the profiler); matrix products "
          f"{products:.2f} s ({products / wall:.0%}), the floor of this model's epoch")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--authors-dir", help="checkout of the authors' repository")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs, "
          f"data {DATA if DATA.exists() else 'simulated'}", flush=True)
    if args.profile:
        profile(args.epochs)
    else:
        speed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
