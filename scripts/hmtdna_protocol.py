"""Our hmtDNA training against the authors' training loop, one difference at a time.

Two studies on the same seeded sample of GenBank genomes (the notebooks' CPU data: Quality >=
0.9, variants at frequency >= 0.0005, split 82/9/9 with seed 0), chosen with ``--row``:

- ``h2`` (issue #18; RSRS): H² (Lorentz k = 5, σ = 0.5, BCE, batch 2048) trained by
  ``ours`` (:class:`rgd_utils.RiemannianDecoder` with the paper profile's hmtDNA settings,
  ``rgdkit.experiments.paper.HMTDNA_TRAINING``, and the noise's gradient held fixed, our default
  before this study: ``authors_choices.BASELINE``), ``authors`` (:func:`train_authors`, our
  re-implementation of the authors' ``train_rgd`` as their ``3.1) hmtDNA-RSRS.ipynb`` calls it,
  with their model: SiLU decoder in float64, latents from ``init_samples``), one variant per
  difference (ours with that one setting switched to the authors' choice:
  :class:`~rgdkit.training.authors_choices.SwitchedDecoder`, a field of its ``Switches``) and
  ``all_switches`` (every switch on: it lands where ``authors`` does, so the list is complete).
- ``r2`` (issue #34; RSRS and rCRS): Table 3's R² (Euclidean latents of width 2, no noise) by
  ``ours`` (our N(0, I) prior, mean loss), ``paper_row`` (Table 3's paper row:
  ``switches="hmtdna_r2_paper"``, their prior ``w(t) ‖Z_batch‖₂`` with β = 100 inside their
  summed loss), each difference alone (the prior switch is their batch prior), ``all_switches``
  (their whole R² protocol, ``AUTHORS_HMTDNA_R2``; ``authors``, their loop, equals it and is
  fitted only on request), and, for the answer the study is for, H² σ = 0.5 by ``h2_ours`` and
  ``h2_authors`` (their loop) on the same data. The noise switches and ``stabilize`` do nothing
  on R² without noise (projx of Euclidean space is the identity) and are left out.

The same in both loops (checked, so no variant): RiemannianAdam betas (0.5, 0.7) and one latent
step per epoch on gradients accumulated over it; Adam betas (0.9, 0.995), learning rates 0.1 and
2e-3; CosineAnnealingWarmRestarts T_0 = 40 for every optimiser; the decoder widths; the best state
by validation loss from epoch 150 (``start_saving=150`` in the notebook), not the final one.
Their ``retr`` is ``expmap`` on geoopt 0.5.1's Lorentz model; their geoopt fork (yhsure/geoopt, a
submodule) could not be read.

Measures per fit, on the training split: Spearman and Pearson of latent geodesic distances
against Hamming distances (at most 5,000 genomes, as the paper profile), and the cross-validated
accuracy of a random forest (300 trees, 5 stratified folds) predicting the haplogroup's first
letter from the latent coordinates (Poincaré coordinates on H²), over the groups with at least 20
genomes.

    python scripts/hmtdna_protocol.py [--row h2|r2] [--references rsrs rcrs]
                                      [--samples 8000] [--seeds 0 1 2] [--epochs 400]
                                      [--variants ours authors ...] [--threads 1]
                                      [--workers 2] [--restart]

Writes the table (mean and std over seeds per reference and protocol:
``hmtdna_protocol_differences.csv`` for ``h2``, ``hmtdna_protocol_r2.csv`` for ``r2``), the
per-fit records ``hmtdna_protocol_fits.csv`` (after every fit, so a long run leaves what it
finished; a rerun keeps the records of its own settings and fits only the rest, ``--restart``
fits all; fits run in the order of ``--variants``, each over references and seeds), and for
``h2`` the figure ``hmtdna_protocol_disks.png``/``.pdf`` (ours and the authors' loop, first seed;
its latents kept in ``hmtdna_protocol_latents.npz``) under ``results/`` (``RGD_RESULTS_DIR``);
with the full settings of the row (the defaults) the table and figure go to ``results/paper/``
too.
"""
import argparse
import math
import sys
import time
from collections import namedtuple
from functools import partial

import geoopt
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts
from tqdm import tqdm

import rgd_utils as R
import rgdkit.metrics as M
from rgdkit.data import hmtdna
from rgdkit.data.splits import split_indices
from rgdkit.experiments import loop as E
from rgdkit.experiments import paper
from rgdkit.experiments import tables as T
from rgdkit.experiments.workers import current_workers, run_tasks
from rgdkit.files.atomic import write_atomically
from rgdkit.files.results import results_dir, save_table, saved_records
from rgdkit.metrics.classification import drop_rare_classes, latent_features
from rgdkit.plotting import colours as COLOURS
from rgdkit.plotting import figures as FIG
from rgdkit.training import authors_choices as AC
from rgdkit.training.authors_choices import SwitchedDecoder, authors_latents, authors_noise
from rgdkit.training.base import progress_options

TABLES = {"h2": "hmtdna_protocol_differences", "r2": "hmtdna_protocol_r2"}
FITS = "hmtdna_protocol_fits"
LATENTS = "hmtdna_protocol_latents.npz"  # the fits the disk figure shows, for a rerun that keeps them
KEY = ("row", "reference", "difference", "seed", "epochs", "samples")
SHOWN = ("ours", "authors")
FIGURE = "hmtdna_protocol_disks"
MEASURES = ("spearman", "pearson", "first_letter_accuracy")
COLUMNS = ["n_seeds"] + [f"{m}_{s}" for m in MEASURES for s in ("mean", "std")]
REFERENCES = ("rsrs", "rcrs")
# the issues' tables: H² on RSRS (#18), R² on both references (#34)
FULL = {"h2": dict(samples=hmtdna.CPU_SAMPLE_SIZE, seeds=[0, 1, 2], epochs=400,
                   references=["rsrs"]),
        "r2": dict(samples=hmtdna.CPU_SAMPLE_SIZE, seeds=[0, 1, 2], epochs=400,
                   references=list(REFERENCES))}
MAX_POINTS = 5000  # genomes per distance correlation: the paper profile's (and the authors') cap
FOREST_TREES, FOLDS, MIN_CLASS_SIZE = 300, 5, 20

# ours: the paper profile's hmtDNA rows H² σ=0.5 and R²
LATENT_SPACES = {"h2": dict(manifold="lorentz", curvature=paper.HYPERBOLIC_K, noise_std=0.5),
                 "r2": dict(manifold="euclidean", curvature=None, noise_std=0.0)}
OURS = dict(**LATENT_SPACES["h2"], **paper.HMTDNA_TRAINING, **AC.BASELINE)
# the authors': their notebook's call of train_rgd, and the _train.py defaults it keeps (H²);
# their R² is Euclidean latents of width 2 without noise, with their batch prior
AUTHORS = dict(manifold="lorentz", curvature=5.0, noise_std=0.5, hidden=(16, 32, 64, 128, 256),
               batch_size=2048, lr_latent=0.1, lr_decoder=2e-3, betas_latent=(0.5, 0.7),
               betas_decoder=(0.9, 0.995), weight_decay=1e-3, stabilize=AC.AUTHORS_STABILIZE,
               restart_period=40, patience=85, start_saving=150, init_std=1e-3, use_prior=False)
AUTHORS_R2 = {**AUTHORS, "manifold": "euclidean", "noise_std": 0.0, "use_prior": True}

Fit = namedtuple("Fit", ["latents", "manifold", "epochs_run", "best_epoch", "train_loss"])


# --------------------------------------------------------------------------------------------
# The authors' pieces (shared by their loop and the switches)
# --------------------------------------------------------------------------------------------
def authors_optimisers(decoder, z, z_val, settings=AUTHORS):
    """Adam with coupled L2 for the decoder; one RiemannianAdam (stabilize 5) per latent set."""
    decoder_opt = torch.optim.Adam(decoder.parameters(), lr=settings["lr_decoder"],
                                   betas=settings["betas_decoder"],
                                   weight_decay=settings["weight_decay"])
    latent_opts = [geoopt.optim.RiemannianAdam([p], lr=settings["lr_latent"],
                                               betas=settings["betas_latent"],
                                               stabilize=settings["stabilize"]) for p in (z, z_val)]
    return decoder_opt, *latent_opts


# --------------------------------------------------------------------------------------------
# The authors' loop, re-implemented
# --------------------------------------------------------------------------------------------
def train_authors(X, X_val, seed=0, epochs=400, settings=AUTHORS, verbose=True):
    """The authors' ``train_rgd`` as their hmtDNA notebook runs it (H², or with
    :data:`AUTHORS_R2` their R²); returns a :class:`Fit`.

    Their model: the decoder with SiLU in float64 on float64 data, latents from
    :func:`authors_latents`. Every epoch: shuffled batches, each a decoder step on the BCE summed
    over features and samples of noised latents (plus, with ``use_prior``, their batch prior
    w(t) ‖Z_batch‖₂, :func:`~rgdkit.training.authors_choices.authors_prior_weight`), then one
    latent step; then the validation
    latents' pass (noised, one step); then the schedulers. From epoch ``start_saving`` the state
    with the lowest validation loss (ties included) is kept, and training stops after
    ``patience`` epochs without one; its training latents are returned (theirs restores the whole
    state, decoder and validation latents too, which the measures here do not use). One
    difference of ours: all randomness comes from a generator seeded with ``seed`` (theirs from the global
    state), and with no more epochs than ``start_saving`` (a reduced run) the best state is
    tracked from epoch 0, as our estimator does, where theirs would restore the initial state.
    """
    generator = torch.Generator().manual_seed(int(seed))
    manifold = (geoopt.Lorentz(k=torch.tensor(float(settings["curvature"]), dtype=torch.float64))
                if settings["manifold"] == "lorentz" else geoopt.Euclidean(1))
    width = R.manifold_origin(manifold, 2, torch.float64).numel()
    X, X_val = (torch.as_tensor(a, dtype=torch.float64) for a in (X, X_val))
    decoder = R.make_decoder(width, X.shape[1], settings["hidden"], activation=nn.SiLU,
                             generator=generator).to(torch.float64)
    z, z_val = (geoopt.ManifoldParameter(authors_latents(manifold, len(a), 2, settings["init_std"],
                                                         generator), manifold=manifold)
                for a in (X, X_val))
    decoder_opt, z_opt, z_val_opt = authors_optimisers(decoder, z, z_val, settings)
    schedulers = [CosineAnnealingWarmRestarts(o, T_0=settings["restart_period"])
                  for o in (decoder_opt, z_opt, z_val_opt)]
    start_saving = settings["start_saving"] if epochs > settings["start_saving"] else 0
    # their state also holds the decoder and the validation latents, which nothing here reads
    best, best_loss, best_epoch, waited, train_loss = z.detach().clone(), math.inf, -1, 0, []
    run_pass = partial(_authors_pass, decoder, manifold=manifold, settings=settings,
                       generator=generator)
    for epoch in tqdm(range(epochs), desc=f"authors' loop, seed {seed}",
                      **progress_options(verbose)):
        prior_weight = AC.authors_prior_weight(epoch) if settings["use_prior"] else 0.0
        train_loss.append(run_pass(z, X, torch.randperm(len(X), generator=generator), z_opt,
                                   decoder_opt, prior_weight=prior_weight))
        val_loss = run_pass(z_val, X_val, torch.arange(len(X_val)), z_val_opt)
        for scheduler in schedulers:
            scheduler.step()
        if epoch < start_saving:
            continue
        if val_loss <= best_loss:
            best, best_loss, best_epoch, waited = z.detach().clone(), val_loss, epoch, 0
        else:
            waited += 1
        if waited >= settings["patience"]:
            break
    return Fit(best.numpy(), manifold, epoch + 1, best_epoch, train_loss)


def _authors_pass(decoder, z, X, order, latent_opt, decoder_opt=None, *, manifold, settings,
                  generator, prior_weight=0.0):
    """One pass over ``X`` in batches of ``order``: the summed BCE of noised latents plus
    ``prior_weight`` times the norm of the batch's latents, a decoder step per batch when
    ``decoder_opt`` is given (the training pass), and one latent step at the end on the gradients
    of the whole pass. Returns the loss per sample. The validation pass leaves gradients on the
    decoder, as theirs does; the next training batch clears them."""
    latent_opt.zero_grad()
    total = 0.0
    for idx in order.split(settings["batch_size"]):
        zb = z[idx]
        if settings["noise_std"] > 0:
            zb = authors_noise(manifold, zb, settings["noise_std"], generator)
        if decoder_opt is not None:
            decoder_opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(decoder(zb), X[idx], reduction="sum")
        if prior_weight:
            loss = loss + prior_weight * torch.norm(zb, p=2)
        loss.backward()
        if decoder_opt is not None:
            decoder_opt.step()
        total += loss.item()
    latent_opt.step()
    return total / len(X)


VARIANTS = AC.variants(AC.TRAINING_DIFFERENCES)  # no prior on H² in either
DIFFERENCES = AC.TRAINING_DIFFERENCES
# R² without noise: the noise switches and stabilize (projx of R^n is the identity) change nothing
R2_DIFFERENCES = ("prior", "loss_reduction", "weight_decay", "activation", "decoder_dtype",
                  "latent_init", "authors_snapshot")
R2_VARIANTS = {"paper_row": AC.NAMED_SWITCHES["hmtdna_r2_paper"],
               **AC.variants(R2_DIFFERENCES, authors=AC.AUTHORS_HMTDNA_R2)}
PROTOCOLS = {"h2": ("ours", "authors", *VARIANTS),
             # in the order they are fitted: the answer's rows first
             "r2": ("ours", "paper_row", "h2_ours", "h2_authors", "all_switches",
                    *R2_DIFFERENCES, "authors")}
DEFAULT_VARIANTS = {"h2": PROTOCOLS["h2"], "r2": PROTOCOLS["r2"][:-1]}  # authors = all_switches


# --------------------------------------------------------------------------------------------
# Fits and measures
# --------------------------------------------------------------------------------------------
def fit_protocol(name, X, split, seed, epochs, verbose=True, row="h2"):
    """Training latents of protocol ``name`` (one of ``PROTOCOLS[row]``) as a :class:`Fit`."""
    train, val, _ = split
    if name.startswith("h2_"):  # the r2 study's H² rows
        row, name = "h2", name[len("h2_"):]
    if name == "authors":
        settings = AUTHORS if row == "h2" else AUTHORS_R2
        return train_authors(X[train], X[val], seed, epochs, settings, verbose=verbose)
    switches = AC.Switches() if name == "ours" else (VARIANTS if row == "h2" else R2_VARIANTS)[name]
    estimator = R.RiemannianDecoder if name == "ours" else partial(SwitchedDecoder, switches)
    # their default dtype float64 holds the latents too (ours: float32 on R², float64 on H²)
    latent_dtype = {"dtype": torch.float64} if switches.decoder_dtype == torch.float64 else {}
    model = estimator(seed=seed, verbose=verbose,
                      **{**OURS, **LATENT_SPACES[row], **latent_dtype, "epochs": epochs})
    model.fit(X[train], X_val=X[val])
    return Fit(model.latents_, model.manifold_, len(model.history_["epoch"]), model.best_epoch_,
               model.history_["train_loss"])


def measures(fit, X, train, groups, threads=1):
    """Spearman and Pearson with Hamming distances, and the first-letter accuracy."""
    hamming = lambda idx: M.hamming_distances(X[idx])
    scores = E.embedding_scores(fit.latents, None, fit.manifold, hamming, train, None, MAX_POINTS)
    return {"spearman": scores["train_spearman"], "pearson": scores["train_pearson"],
            "first_letter_accuracy": first_letter_accuracy(
                latent_features(fit.latents, fit.manifold), groups[train], threads)}


def first_letter_accuracy(features, groups, threads=1):
    """Mean accuracy of a random forest over stratified folds, on the groups of at least
    ``MIN_CLASS_SIZE`` genomes (fewer give no stable accuracy and break stratification)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    labels = drop_rare_classes(groups, MIN_CLASS_SIZE)
    kept = np.array([label is not None for label in labels])
    forest = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=0, n_jobs=threads)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    return float(cross_val_score(forest, features[kept], labels[kept].astype(str), cv=folds).mean())


def summary_table(records, by=("difference",)):
    """One row per group of ``by`` (the protocol; for the R² study reference and protocol):
    seeds, then mean and std (ddof 0) of every measure, in the records' order."""
    grouped = pd.DataFrame(records).groupby(list(by), sort=False)
    mean, std = grouped[list(MEASURES)].mean(), grouped[list(MEASURES)].std(ddof=0).fillna(0.0)
    table = pd.DataFrame({"n_seeds": grouped.size()})
    for measure in MEASURES:
        table[f"{measure}_mean"], table[f"{measure}_std"] = mean[measure], std[measure]
    return table[COLUMNS]


def disk_figure(fits, groups):
    """The latents of each protocol in ``fits`` (title -> Fit) on the Poincaré disk, side by
    side, coloured by first-letter group in the notebooks' fixed colours
    (:mod:`rgdkit.plotting.colours`), one legend for all. Both panels show the disk around its
    centre to the farthest point of either: a short run leaves the latents near the origin, and
    one scale keeps their spreads comparable."""
    disks = {title: (FIG.lorentz_to_poincare(fit.latents, float(fit.manifold.k)),
                     math.sqrt(float(fit.manifold.k))) for title, fit in fits.items()}
    reach = min(1.05 * max(np.abs(points).max() for points, _ in disks.values()),
                1.02 * max(radius for _, radius in disks.values()))
    fig, axes = plt.subplots(1, len(fits), figsize=(6.5 * len(fits) + 1.5, 6.5),
                             layout="constrained", squeeze=False)
    for ax, (title, (points, radius)) in zip(axes[0], disks.items()):
        FIG.plot_poincare_disk(points, colors=COLOURS.label_colours(groups, "haplogroup"), ax=ax,
                               radius=radius, title=title)
        ax.plot(0, 0, "k+", markersize=10)  # the origin, where every latent starts
        ax.set(xlim=(-reach, reach), ylim=(-reach, reach))
    fig.suptitle(f"Poincaré disk of radius {radius:.2f}, shown to {reach:.2f} from its centre")
    fig.legend(handles=COLOURS.legend_handles(groups, "haplogroup"), loc="outside right center",
               fontsize="small", title="haplogroup")
    return fig


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--row", choices=tuple(PROTOCOLS), default="h2",
                        help="the study: h2 (H² σ=0.5, issue #18) or r2 (Table 3's R², issue #34)")
    parser.add_argument("--references", nargs="+", choices=REFERENCES, default=None,
                        help="the genomes' reference sequence(s) (default: the row's, "
                             "h2 rsrs, r2 both)")
    parser.add_argument("--samples", type=int, default=hmtdna.CPU_SAMPLE_SIZE,
                        help="genomes sampled from the GenBank table (seed 0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--variants", nargs="+", default=None,
                        choices=sorted({p for names in PROTOCOLS.values() for p in names}),
                        help="protocols to fit, in this order (default: the row's)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and random-forest threads (with one worker)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of one thread each, fits spread over them "
                             "(default: RGD_WORKERS, else 1)")
    parser.add_argument("--restart", action="store_true",
                        help="fit everything again instead of keeping the fits already saved")
    args = parser.parse_args(argv)
    args.references = args.references or FULL[args.row]["references"]
    args.variants = args.variants or list(DEFAULT_VARIANTS[args.row])
    foreign = [name for name in args.variants if name not in PROTOCOLS[args.row]]
    if foreign:
        parser.error(f"--variants {' '.join(foreign)} are not protocols of --row {args.row}; "
                     f"its protocols: {' '.join(PROTOCOLS[args.row])}")
    return args


def is_full_run(args):
    """Whether ``args`` are the issue's settings of the row, the only ones written to
    results/paper/."""
    full = FULL[args.row]
    return (args.samples == full["samples"] and sorted(args.seeds) == full["seeds"]
            and args.epochs == full["epochs"]
            and sorted(args.references) == sorted(full["references"])
            and set(args.variants) >= set(DEFAULT_VARIANTS[args.row]))


def load_genomes(samples, reference="rsrs"):
    """The notebooks' genome sample against ``reference``, and the first-letter group of each
    genome."""
    X, kept, description = hmtdna.genbank_sample(reference, samples)
    groups = np.array([hmtdna.first_letter_group(h) for h in kept["Haplogroup"]])
    return X, groups, description


def fit_and_measure(name, seed, X, split, groups, epochs, threads=1, row="h2"):
    """One fit of protocol ``name`` and its measures: (record, the :class:`Fit`'s fields).

    Fields, not the Fit: a worker pickles what it returns by reference to its class, and this
    script is no module a worker can import."""
    start = time.perf_counter()
    fit = fit_protocol(name, X, split, seed, epochs, verbose=True, row=row)
    seconds = time.perf_counter() - start
    record = {"difference": name, "seed": seed, **measures(fit, X, split[0], groups, threads),
              "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "fit_seconds": seconds}
    return record, tuple(fit)


def saved_fits(restart=False):
    """Records of earlier runs keyed by :data:`KEY` (none if ``restart`` or from an older
    version of this script), and the shown fits' latents saved with them (key -> Fit)."""
    records = {} if restart else saved_records(FITS, KEY)
    latents_path = results_dir() / LATENTS
    if not records or not latents_path.exists():
        return records, {}
    fits = {}
    with np.load(latents_path) as stored:
        for name in stored.files:
            key = _key_of(name)
            if name.endswith("_k") or key not in records:
                continue
            manifold = R.make_manifold("lorentz", 2, curvature=float(stored[f"{name}_k"]))
            fits[key] = Fit(stored[name], manifold,
                            *(records[key][f] for f in ("epochs_run", "best_epoch")), None)
    return records, fits


def _latents_name(key):
    return "|".join(str(part) for part in key)


def _key_of(name):
    parts = name.removesuffix("_k").split("|")
    if len(parts) != len(KEY):
        return None
    row, reference, difference, seed, epochs, samples = parts
    return row, reference, difference, int(seed), int(epochs), int(samples)


def save_latents(fits):
    """The shown fits' latents and curvatures, atomically, beside the records."""
    arrays = {}
    for key, fit in fits.items():
        arrays[_latents_name(key)] = fit.latents
        arrays[f"{_latents_name(key)}_k"] = np.array(float(fit.manifold.k))
    write_atomically(results_dir() / LATENTS, lambda path: np.savez(path, **arrays))


def main(argv=None):
    args = parse_args(argv)
    workers = current_workers() if args.workers is None else args.workers
    threads = args.threads if workers == 1 else 1
    torch.set_num_threads(threads)
    data = {ref: load_genomes(args.samples, ref) for ref in args.references}
    splits = {ref: split_indices(len(data[ref][0]), seed=0) for ref in args.references}
    keys = [(args.row, ref, name, seed, args.epochs, args.samples)
            for name in args.variants for ref in args.references for seed in args.seeds]
    shown_keys = [key for key in keys if args.row == "h2" and key[2] in SHOWN
                  and key[1] == args.references[0] and key[3] == args.seeds[0]]
    saved, shown_fits = saved_fits(args.restart)
    todo = [key for key in keys if key not in saved or (key in shown_keys and key not in shown_fits)]
    for ref, (X, _, description) in data.items():
        print(f"data ({ref}): {description}; {len(X)} genomes x {X.shape[1]} variants, "
              f"train {len(splits[ref][0])}")
    print(f"{args.row}: seeds {args.seeds}, {args.epochs} epochs, {workers} worker(s) of "
          f"{threads} thread(s); {len(keys) - len(todo)} of {len(keys)} fits kept from the last "
          "run", flush=True)

    def save(index, result):
        key, (record, fit) = todo[index], (result[0], Fit(*result[1]))
        saved[key] = {"row": key[0], "reference": key[1], **record, "epochs": args.epochs,
                      "samples": args.samples}
        save_table(pd.DataFrame(saved.values()).set_index("row"), FITS)
        if key in shown_keys:
            shown_fits[key] = fit
            save_latents(shown_fits)
        tqdm.write(f"fit {sum(k in saved for k in keys)}/{len(keys)}, {key[1]} "
                   f"{record['difference']} seed {record['seed']}: Spearman "
                   f"{record['spearman']:.3f}, Pearson {record['pearson']:.3f}, first-letter "
                   f"accuracy {record['first_letter_accuracy']:.3f}; {fit.epochs_run} epochs "
                   f"(best {fit.best_epoch}), {record['fit_seconds']:.0f} s, "
                   f"{record['fit_seconds'] / fit.epochs_run:.2f} s/epoch", file=sys.stdout)

    run_tasks(fit_and_measure,
              [(name, seed, data[ref][0], splits[ref], data[ref][1], args.epochs, threads, row)
               for row, ref, name, seed, *_ in todo], workers, on_result=save)
    records = [{k: v for k, v in saved[key].items() if k not in ("row", "epochs", "samples")}
               for key in keys]
    by = ("difference",) if args.row == "h2" else ("reference", "difference")
    shown = {f"{key[2]}, seed {key[3]}: Spearman {saved[key]['spearman']:.2f}": shown_fits[key]
             for key in shown_keys}
    groups = data[args.references[0]][1][splits[args.references[0]][0]]
    write_outputs(summary_table(records, by), TABLES[args.row], shown, groups, is_full_run(args))
    return 0


def write_outputs(table, name, shown, groups, full):
    """The table (and the disks of ``shown`` fits) to results/, and to results/paper/ for the
    full settings only."""
    folders = [results_dir()] + ([results_dir() / "paper"] if full else [])
    fig = disk_figure(shown, groups) if shown else None
    for folder in folders:
        print(f"wrote {save_table(table, name, folder)}")
        if fig is not None:
            print(f"wrote {FIG.save_figure(fig, FIGURE, folder)[0]}")
    if not full:
        print("reduced settings: results/paper/ left as it was (full: the defaults of --row)")
    print(table.round(3).to_string())


if __name__ == "__main__":
    sys.exit(main())
