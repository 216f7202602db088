"""Each difference from the authors' training code, measured on the branching data (issue #12).

Trains the paper's Table 2 rows ``H² σ=1.0`` and ``R²`` (σ = 0; ``--rows`` takes any of its RGD
rows) with the paper profile's settings (``rgdkit.experiments.paper.BRANCHING_TRAINING``, 750
epochs) on the published branching data, split 82/9/9 with seed 0, as

- ``ours``: :class:`rgd_utils.RiemannianDecoder` with the noise's gradient held fixed, our
  default before issue #18 (``authors_choices.BASELINE``; the ``noise_gradient`` variant is
  the default now);
- one variant per difference: ours with that one choice switched to the authors'
  (:mod:`rgdkit.training.authors_choices` lists them and where each comes from);
- ``all_switches``: ours with every one of them.

The ``prior`` switch changes nothing on H² (neither puts a prior there), so H² skips it. Measured
per fit, on the training split: Pearson and Spearman of latent geodesic against tree distances (at
most 3,000 points, as the paper profile) and the reconstruction MSE. Fits run in ``--workers``
processes (default ``RGD_WORKERS``, else 1). Each fit's record is saved as it finishes; a rerun
with the same epochs and data keeps those and fits only the rest (``--restart`` fits all again).

    python scripts/branching_differences.py [--seeds 0 1 2] [--epochs 750] [--rows "R²" ...]
                                            [--variants ours activation ...] [--workers 2]
                                            [--restart]

Writes ``branching_differences_fits.csv`` (one row per fit) and ``differences.csv`` (per row and
difference: seeds, mean and std of each measure, and the change of the mean train Pearson from
ours) under ``results/`` (``RGD_RESULTS_DIR``); with the full settings (the defaults) the table
goes to ``results/paper/`` too.
"""
import argparse
import os
import sys
import time

import pandas as pd

import rgdkit.metrics as M
from rgdkit.data import branching
from rgdkit.data.splits import split_indices
from rgdkit.experiments import loop as E
from rgdkit.experiments import paper
from rgdkit.experiments import tables as T
from rgdkit.experiments.workers import current_workers, run_tasks
from rgdkit.files.results import results_dir, save_table, saved_records
from rgdkit.metrics.reconstruction import reconstruction_errors
from rgdkit.training import authors_choices as AC

TABLE, FITS = "differences", "branching_differences_fits"
ROWS = ("H² σ=1.0", "R²")
VARIANTS = {"ours": AC.Switches(), **AC.variants()}
MEASURES = ("train_pearson", "train_spearman", "train_mse")
FULL = dict(seeds=[0, 1, 2], epochs=paper.BRANCHING_TRAINING["epochs"])
MAX_POINTS = 3000
KEY = ("row", "difference", "seed", "epochs", "source")


def plan(rows, variants, seeds):
    """(row, difference, seed) of every fit; the prior switch only where a prior exists."""
    settings = paper.table("branching_table2").models("rgd")
    return [(row, name, seed) for row in rows for name in variants for seed in seeds
            if not (name == "prior" and settings[row]["manifold"] != "euclidean")]


def fit_variant(row, name, seed, X, labels, split, epochs):
    """One fit of ``row`` with ``name``'s switches; its training measures as a record."""
    table = paper.table("branching_table2")
    train, val, _ = split
    model = AC.SwitchedDecoder(VARIANTS[name], seed=seed, verbose=False,
                               **{**table.training, **table.models("rgd")[row], **AC.BASELINE,
                                  "epochs": epochs})
    start = time.perf_counter()
    model.fit(X[train], X_val=X[val])
    seconds = time.perf_counter() - start
    scores = E.embedding_scores(model.latents_, None, model.manifold_,
                                lambda idx: M.tree_distances(labels[idx]), train, None, MAX_POINTS)
    mse = reconstruction_errors(X[train], model.inverse_transform(model.latents_))["mse"]
    return {"row": row, "difference": name, "seed": seed, "epochs": epochs, **scores,
            "train_mse": mse, "epochs_run": len(model.history_["epoch"]), "fit_seconds": seconds}


def saved_fits(restart=False):
    """Records saved by earlier runs (none if ``restart``), keyed by (row, difference, seed,
    epochs, source): a rerun keeps those of its own settings and the file keeps all."""
    return {} if restart else saved_records(FITS, KEY)


def summary_table(records):
    """Per row and difference: seeds, mean and std (ddof 0) of each measure, and the change of
    the mean train Pearson from ``ours`` of the same row."""
    table = T.seed_table(records, ["row", "difference"], MEASURES)
    table["train_pearson_change"] = T.change_from(table, "difference", "ours", "train_pearson")
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=FULL["seeds"])
    parser.add_argument("--epochs", type=int, default=FULL["epochs"])
    parser.add_argument("--rows", nargs="+", default=list(ROWS),
                        choices=list(paper.table("branching_table2").models("rgd")),
                        help="Table 2 rows (default: the table's; any other row is a check "
                             "written to results/ only)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes, one thread each (default: RGD_WORKERS, else 1)")
    parser.add_argument("--restart", action="store_true",
                        help="fit everything again instead of keeping the fits already saved")
    parser.add_argument("--data", default=os.environ.get("RGD_BRANCHING_NPZ"),
                        help="branching data file (default: RGD_BRANCHING_NPZ, data/, "
                             "then the exact simulation)")
    return parser.parse_args(argv)


def is_full_run(args):
    """Whether ``args`` are the issue's settings, the only ones written to results/paper/."""
    return (sorted(args.seeds) == FULL["seeds"] and args.epochs == FULL["epochs"]
            and set(args.rows) == set(ROWS) and set(args.variants) == set(VARIANTS))


def main(argv=None):
    args = parse_args(argv)
    workers = current_workers() if args.workers is None else args.workers
    X, labels, source = branching.load_branching(args.data)
    split = split_indices(len(X), seed=0)
    fits = plan(args.rows, args.variants, args.seeds)
    keys = [(*fit, args.epochs, source) for fit in fits]
    saved = saved_fits(args.restart)
    todo = [key for key in keys if key not in saved]
    print(f"data: {source} ({X.shape[0]} x {X.shape[1]}); {len(fits)} fits, seeds {args.seeds}, "
          f"{args.epochs} epochs, {workers} worker(s); {len(fits) - len(todo)} kept from the "
          "last run", flush=True)
    start = time.perf_counter()

    def save(index, record):
        saved[todo[index]] = {**record, "source": source}
        save_table(pd.DataFrame(saved.values()).set_index("row"), FITS)
        print(f"fit {sum(key in saved for key in keys)}/{len(keys)}: {record['row']} "
              f"{record['difference']} seed {record['seed']}, train Pearson "
              f"{record['train_pearson']:.3f}", flush=True)

    run_tasks(fit_variant, [(*key[:3], X, labels, split, args.epochs) for key in todo], workers,
              on_result=save)
    print(f"{len(todo)} fits in {(time.perf_counter() - start) / 60:.1f} min")
    table = summary_table([saved[key] for key in keys])
    folders = [results_dir()] + ([results_dir() / "paper"] if is_full_run(args) else [])
    for folder in folders:
        print(f"wrote {save_table(table, TABLE, folder)}")
    if not is_full_run(args):
        print("reduced settings: results/paper/ left as it was (full: --seeds 0 1 2 "
              f"--epochs {FULL['epochs']}, every row and variant)")
    print(table.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
