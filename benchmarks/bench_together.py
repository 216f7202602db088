"""Models trained together against models trained one by one, on the branching data (H², k = 5,
σ = 1, the paper's Table 2 settings): seconds per epoch per model, samples/s and peak memory for
one model alone, M members together (``fit_together``) in this process and split between
one-thread worker processes, and a plain reference loop of the kind
the authors train with (a per-item DataLoader, latents and decoder stepped per minibatch; our
own re-implementation, for timing only). Also times the test-time latents alone and together.

    python benchmarks/bench_together.py [--epochs 10] [--members 5]
    python benchmarks/bench_together.py --quality   # 5 seeds x 750 epochs, train Pearson

``--quality`` trains five seeds together for the paper's 750 epochs (early stopping as in the
notebooks) and prints each seed's train Pearson of latent against tree distances.
"""
from __future__ import annotations

import argparse
import resource
import time

import geoopt
import torch

import rgd_utils as R
from rgdkit.training import together
from rgdkit.data import branching
from rgdkit.data.splits import split_indices
from rgdkit.experiments import paper
from rgdkit.experiments.loop import subsample
from rgdkit.experiments.workers import run_tasks, split_evenly
import rgdkit.metrics as M


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings(epochs, seed=0):
    return dict(paper.table("branching_table2").training, manifold="lorentz", curvature=5.0,
                noise_std=1.0, epochs=epochs, min_epochs=0, seed=seed, verbose=False)


def per_epoch(seconds, epochs, members=1):
    return seconds / epochs / members


def time_alone(X, X_val, epochs, members):
    start = time.perf_counter()
    for seed in range(members):
        R.RiemannianDecoder(**settings(epochs, seed)).fit(X, X_val=X_val)
    return time.perf_counter() - start


def time_together(X, X_val, epochs, seeds):
    """Seconds to fit the members of ``seeds`` together (their construction not counted)."""
    models = [R.RiemannianDecoder(**settings(epochs, seed)) for seed in seeds]
    start = time.perf_counter()
    R.fit_together(models, X, X_val)
    return time.perf_counter() - start


def time_together_in_workers(X, X_val, epochs, members, workers):
    """The members split between ``workers`` one-thread processes, as the notebooks' runner
    does: the slowest worker's training time, and the wall time with process start-up."""
    chunks = split_evenly(range(members), workers)
    start = time.perf_counter()
    seconds = run_tasks(time_together, [(X, X_val, epochs, seeds) for seeds in chunks], workers)
    return max(seconds), time.perf_counter() - start


def time_reference_loop(X, epochs, members, batch_size=128):
    """A plain training loop as research code often has it: a per-item DataLoader, Lorentz
    latents with RiemannianAdam and the decoder with Adam, both stepped every minibatch."""
    start = time.perf_counter()
    for seed in range(members):
        torch.manual_seed(seed)
        manifold = geoopt.Lorentz(k=5.0)
        z = geoopt.ManifoldParameter(manifold.projx(1e-3 * torch.randn(len(X), 3, dtype=torch.float64)),
                                     manifold=manifold)
        decoder = R.make_decoder(3, X.shape[1])
        data = torch.utils.data.TensorDataset(torch.arange(len(X)), torch.as_tensor(X))
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True)
        opt_z = geoopt.optim.RiemannianAdam([z], lr=0.1)
        opt_d = torch.optim.Adam(decoder.parameters(), lr=2e-3)
        for _ in range(epochs):
            for idx, xb in loader:
                zb = R.perturb(z[idx], manifold, 1.0)
                loss = (decoder(zb.float()) - xb).square().mean()
                opt_z.zero_grad()
                opt_d.zero_grad()
                loss.backward()
                opt_z.step()
                opt_d.step()
    return time.perf_counter() - start


def time_test_latents(models, X_test):
    start = time.perf_counter()
    for model in models:
        model.transform(X_test)
    alone = time.perf_counter() - start
    start = time.perf_counter()
    R.transform_together(models, X_test)
    return alone, time.perf_counter() - start


def speed(X, X_val, X_test, epochs, members, workers):
    print(f"{'run':44s} {'s/epoch/model':>13s} {'samples/s':>10s} {'peak MB':>8s}")
    in_workers, with_startup = time_together_in_workers(X, X_val, epochs, members, workers)
    rows = [("one model alone", time_alone(X, X_val, epochs, 1), 1),
            (f"{members} models one by one", time_alone(X, X_val, epochs, members), members),
            (f"{members} models together", time_together(X, X_val, epochs, range(members)), members),
            (f"{members} models together, {workers} workers", in_workers, members),
            (f"{members} models, reference DataLoader loop",
             time_reference_loop(X, epochs, members), members)]
    for label, seconds, m in rows:
        each = per_epoch(seconds, epochs, m)
        print(f"{label:44s} {each:13.4f} {len(X) / each:10.0f} {peak_rss_mb():8.0f}")
    by_name = {label: per_epoch(s, epochs, m) for label, s, m in rows}
    reference = by_name[f"{members} models, reference DataLoader loop"]
    for label in (f"{members} models together", f"{members} models together, {workers} workers"):
        print(f"{label} vs one by one: {by_name[f'{members} models one by one'] / by_name[label]:.1f}"
              f" x; vs the reference loop: {reference / by_name[label]:.1f} x")
    print(f"({workers} workers: {with_startup - in_workers:.1f} s of process start-up and "
          "transfer, not counted above)")
    models = R.fit_together([R.RiemannianDecoder(**{**settings(2, seed), "n_starts": 20, "test_epochs": 50})
                             for seed in range(members)], X, X_val)
    alone, batched = time_test_latents(models, X_test)
    print(f"test-time latents of {len(X_test)} samples (20 starts, 50 steps), {members} models: "
          f"one by one {alone:.1f} s, together {batched:.1f} s (batched up to "
          f"{together.CPU_BATCHED_ROWS} rows per model on a CPU)")


def quality(X, X_val, labels, train):
    models = [R.RiemannianDecoder(**{**settings(750, seed), "min_epochs": 150})
              for seed in range(5)]
    start = time.perf_counter()
    R.fit_together(models, X, X_val)
    print(f"5 seeds of H² σ = 1 together, 750 epochs at most: {time.perf_counter() - start:.0f} s")
    for model in models:
        keep = subsample(len(train), 3000)
        pearson, _ = M.distance_correlation(model.latents_[keep], model.manifold_,
                                            M.tree_distances(labels[train[keep]]))
        print(f"seed {model.seed}: train Pearson {pearson:.3f} "
              f"({len(model.history_['epoch'])} epochs, best {model.best_epoch_})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes for the members split between them")
    args = parser.parse_args(argv)
    X, labels, source = branching.load_branching()
    train, val, test = split_indices(len(X), seed=0)
    print(f"data: {source}; {len(train)} training samples; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {R.pick_device()}")
    if args.quality:
        quality(X[train], X[val], labels, train)
    else:
        time_together(X[train], X[val], 2, range(2))  # warm-up
        speed(X[train], X[val], X[test][:200], args.epochs, args.members, args.workers)


if __name__ == "__main__":
    main()
