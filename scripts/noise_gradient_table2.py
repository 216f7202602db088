"""Table 2's hyperbolic rows with the noise's gradient held fixed and pathwise (issue #18).

Issue #18 made ``noise_gradient="pathwise"`` (the authors' gradient) the estimator's default in
place of ``"fixed"``. This trains every H² row of the paper's Table 2 (σ = 0.1, 0.5, 1, 2) with
the paper profile's settings (``rgdkit.experiments.paper.BRANCHING_TRAINING``, 750 epochs) on the
published branching data, split 82/9/9 with seed 0, seeds 0-4 as the paper, once with each
gradient, and measures on the training split: Pearson and Spearman of latent geodesic against tree
distances (at most 3,000 points, as the paper profile) and the reconstruction MSE. The members of
one gradient are trained together (``fit_together``, each as it would be alone); test-time
latents are not computed.

    python scripts/noise_gradient_table2.py [--seeds 0 1 2 3 4] [--epochs 750] [--workers 2]
                                            [--data FILE]

Writes ``noise_gradient_table2_fits.csv`` (one row per fit) and ``noise_gradient_table2.csv``
(per row and gradient: seeds, mean and std of each measure, and the change of the means from
``fixed``) under ``results/`` (``RGD_RESULTS_DIR``); with the full settings (the defaults) the
table goes to ``results/paper/`` too.
"""
import argparse
import os
import sys

import pandas as pd

import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.data import branching
from rgdkit.data.splits import split_indices
from rgdkit.experiments import loop as E
from rgdkit.experiments import paper
from rgdkit.experiments import tables as T
from rgdkit.files.results import results_dir, save_table

TABLE, FITS = "noise_gradient_table2", "noise_gradient_table2_fits"
MEASURES = ("train_pearson", "train_spearman", "train_mse")
FULL = dict(seeds=[0, 1, 2, 3, 4], epochs=paper.BRANCHING_TRAINING["epochs"])
MAX_POINTS = 3000


def hyperbolic_rows():
    """Table 2's H² rows: label -> parameters."""
    return {label: params for label, params in paper.table("branching_table2").models("rgd").items()
            if params["manifold"] == "lorentz"}


def model_name(row, gradient):
    return f"{row} | {gradient}"


def fit_all(X, labels, split, seeds, epochs, workers=None):
    """Records of every H² row and gradient for every seed, with ``row`` and ``gradient``."""
    table = paper.table("branching_table2")
    models = {model_name(row, gradient): {**params, "noise_gradient": gradient}
              for row, params in hyperbolic_rows().items() for gradient in R.NOISE_GRADIENTS}
    records, _ = E.fit_models(models, X, split, lambda idx: M.tree_distances(labels[idx]), seeds,
                              embed_test=False, workers=workers, max_points=MAX_POINTS,
                              **{**table.training, "epochs": epochs})
    for record in records:
        record["row"], record["gradient"] = record.pop("model").split(" | ")
    return records


def summary_table(records):
    """Per row and gradient: seeds, mean and std (ddof 0) of each measure, and the change of each
    mean from the ``fixed`` gradient of the same row."""
    table = T.seed_table(records, ["row", "gradient"], MEASURES)
    for measure in MEASURES:
        table[f"{measure}_change"] = T.change_from(table, "gradient", "fixed", measure)
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=FULL["seeds"])
    parser.add_argument("--epochs", type=int, default=FULL["epochs"])
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes, one thread each (default: RGD_WORKERS, else 1)")
    parser.add_argument("--data", default=os.environ.get("RGD_BRANCHING_NPZ"),
                        help="branching data file (default: RGD_BRANCHING_NPZ, data/, "
                             "then the exact simulation)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    X, labels, source = branching.load_branching(args.data)
    full = sorted(args.seeds) == FULL["seeds"] and args.epochs == FULL["epochs"]
    print(f"data: {source} ({X.shape[0]} x {X.shape[1]}); seeds {args.seeds}, {args.epochs} "
          "epochs", flush=True)
    records = fit_all(X, labels, split_indices(len(X), seed=0), args.seeds, args.epochs,
                      args.workers)
    save_table(pd.DataFrame(records).set_index("row"), FITS)
    table = summary_table(records)
    for folder in [results_dir()] + ([results_dir() / "paper"] if full else []):
        print(f"wrote {save_table(table, TABLE, folder)}")
    if not full:
        print(f"reduced settings: results/paper/ left as it was (full: --seeds 0 1 2 3 4 "
              f"--epochs {FULL['epochs']})")
    print(table.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
