"""Refit some of Table 2's RGD rows with the paper's settings and compare them with the committed
table: a check that a change to the training code leaves the paper's numbers as they were.

Fits the named rows of ``rgdkit.experiments.paper``'s ``branching_table2`` (default: H² σ=1.0
and R²) on the published branching data, split 82/9/9 with seed 0, seeds 0-4 and 750 epochs as
the paper, with test-time latents, exactly as notebook 2 does (``fit_models``). Prints, per row
and metric, the committed mean ± std (``results/paper/branching_table2.csv``) beside the refit,
and the change in units of the committed std; writes ``table2_rows.csv`` under ``results/``
(never ``results/paper/``).

    python scripts/table2_rows.py [--rows "H² σ=1.0" "R²"] [--seeds 0 1 2 3 4] [--workers 2]
"""
import argparse
import os
import sys
from pathlib import Path

import pandas as pd

import rgdkit.metrics as M
from rgdkit.data import branching
from rgdkit.data.splits import split_indices
from rgdkit.experiments import loop as E
from rgdkit.experiments import paper
from rgdkit.experiments import tables as T
from rgdkit.files.results import results_dir, save_table

METRICS = ("train_pearson", "test_pearson", "train_spearman", "test_spearman", "train_mse",
           "test_mse")
MAX_POINTS = 3000  # as the paper profile scores
COMMITTED = Path(__file__).resolve().parents[1] / "results" / "paper" / "branching_table2.csv"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["H² σ=1.0", "R²"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=paper.BRANCHING_TRAINING["epochs"])
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes, one thread each (default: RGD_WORKERS, else 1)")
    parser.add_argument("--data", default=os.environ.get("RGD_BRANCHING_NPZ"))
    return parser.parse_args(argv)


def comparison(table, committed):
    """Per row and metric: committed and refit mean ± std, and the change in committed stds."""
    rows = []
    for label, refit in table.iterrows():
        before = committed.loc[label]
        for metric in METRICS:
            change = refit[f"{metric}_mean"] - before[f"{metric}_mean"]
            std = before[f"{metric}_std"]
            rows.append(dict(row=label, metric=metric,
                             committed=f"{before[f'{metric}_mean']:.3f} ± {std:.3f}",
                             refit=f"{refit[f'{metric}_mean']:.3f} ± {refit[f'{metric}_std']:.3f}",
                             change=round(change, 4),
                             change_in_stds=round(change / std, 2) if std > 0 else float("nan")))
    return pd.DataFrame(rows)


def main(argv=None):
    args = parse_args(argv)
    table2 = paper.table("branching_table2")
    models = table2.models("rgd")
    unknown = set(args.rows) - set(models)
    if unknown:
        raise SystemExit(f"unknown rows {sorted(unknown)}; Table 2's RGD rows: {list(models)}")
    X, labels, source = branching.load_branching(args.data)
    print(f"data: {source} ({X.shape[0]} x {X.shape[1]}); rows {args.rows}; seeds {args.seeds}; "
          f"{args.epochs} epochs", flush=True)
    records, _ = E.fit_models({row: models[row] for row in args.rows}, X,
                              split_indices(len(X), seed=0),
                              lambda idx: M.tree_distances(labels[idx]), args.seeds,
                              workers=args.workers, max_points=MAX_POINTS,
                              **{**table2.training, "epochs": args.epochs})
    table = T.seed_table(records, ["model"], METRICS)
    print(f"wrote {save_table(table, 'table2_rows', results_dir())}")
    committed = pd.read_csv(COMMITTED, index_col="model")
    print(comparison(table, committed).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
