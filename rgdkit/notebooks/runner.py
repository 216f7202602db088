"""Execute the paper notebooks top to bottom with papermill.

By default each notebook runs as a copy written to ``results/executed/`` so the committed notebooks
(which carry the outputs of a full ``paper`` run) are never rewritten. ``--inplace`` refreshes the
committed outputs; maintainers use it with ``--profile paper``. papermill injects the profile (and,
for the rCRS notebook, ``REFERENCE``) after each notebook's ``parameters`` cell.

In the paper profile finished groups of fits are kept in ``results/cache/`` (``RGD_FIT_CACHE``,
:mod:`rgdkit.files.fit_cache`): a run that is stopped, after hours of hmtDNA fits, resumes from
them. Delete that folder after changing the training code, whose results the keys do not cover.

The two hmtDNA notebooks have one source: ``3_hmtDNA_rsrs.ipynb``. ``3_hmtDNA_rcrs.ipynb`` is that
notebook run with ``REFERENCE = "rcrs"`` (``--render`` rewrites it from the source without running).

    python -m rgdkit.notebooks.runner                      # all notebooks, fast profile
    python -m rgdkit.notebooks.runner --profile paper 2_BranchingDiffusion.ipynb
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor, as_completed
import logging
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill

from rgdkit.experiments.profiles import PROFILES
from rgdkit.experiments.workers import WORKERS_VARIABLE
from rgdkit.files.fit_cache import CACHE_VARIABLE
from rgdkit.files.atomic import write_atomically

ROOT = Path(__file__).resolve().parents[2]
# papermill logs every parameters-cell line it cannot parse as a simple assignment; we pass values
logging.getLogger("papermill.translators").setLevel(logging.ERROR)
DEFAULT_OUTPUT_DIR = ROOT / "results" / "executed"
DEFAULT_SHARED_DATA = Path(os.environ.get("RGD_SHARED_DATA", ROOT.parent / "shared" / "data"))
# notebooks rendered from another notebook's source: name -> (source, parameters)
RENDERED = {"3_hmtDNA_rcrs.ipynb": ("3_hmtDNA_rsrs.ipynb", {"REFERENCE": "rcrs"})}
# real public data kept beside the project (see data/README.md): environment variable -> file,
# or -> files in order of preference (the first one present is used)
GENBANK_TABLE = "hmtdna/genbank_rcrs_shared.tsv.gz"
KGP_REPORT = "hmtdna/1kgp_rcrs_haplogrep.txt.gz"
SHARED_DATA_FILES = {
    "RGD_BRANCHING_NPZ": "branching/tensordataset.npz",
    "RGD_CELLCYCLE_SOURCE": "cellcycle/peco_ipsc_101genes.h5ad",
    # the hmtDNA notebooks' real data: the GenBank genomes (the paper's kind of data)
    "RGD_HMTDNA_SOURCE": (GENBANK_TABLE, KGP_REPORT),
    # a second, small real set (2,504 genomes) for fast tests
    "RGD_HMTDNA_SMALL_SOURCE": KGP_REPORT,
    "RGD_PHYLOTREE_RSRS": "hmtdna/phylotree-rsrs-17.0.xml",
    "RGD_PHYLOTREE_RCRS": "hmtdna/phylotree-fu-rcrs-1.2.xml",
}
# settings that go with a variable's file: (variable, file) -> more variables. Both hmtDNA tables
# are rCRS-relative. 16,440 of the 18,567 GenBank genomes reach the paper's Quality 0.9; of the
# 2,504 1000 Genomes ones only 42 do (1,739 reach 0.8), so that report is used at 0.8
SHARED_DATA_SETTINGS = {
    ("RGD_HMTDNA_SOURCE", GENBANK_TABLE): {"RGD_HMTDNA_SOURCE_REFERENCE": "rcrs",
                                           "RGD_MIN_QUALITY": "0.9"},
    ("RGD_HMTDNA_SOURCE", KGP_REPORT): {"RGD_HMTDNA_SOURCE_REFERENCE": "rcrs",
                                        "RGD_MIN_QUALITY": "0.8"},
    ("RGD_HMTDNA_SMALL_SOURCE", KGP_REPORT): {"RGD_HMTDNA_SMALL_SOURCE_REFERENCE": "rcrs",
                                              "RGD_HMTDNA_SMALL_MIN_QUALITY": "0.8"},
}


def notebooks_in(folder: Path) -> list[Path]:
    """The numbered notebooks at the top level, in reading order."""
    return sorted(p for p in folder.glob("[0-9]_*.ipynb"))


def source_and_parameters(notebook: Path, profile: str) -> tuple[Path, dict]:
    """The notebook papermill runs for ``notebook`` and the parameters it injects."""
    source, extra = RENDERED.get(notebook.name, (notebook.name, {}))
    return notebook.parent / source, {"PROFILE": profile, **extra}


def shared_data_environment(folder: Path) -> dict[str, str]:
    """Environment variables pointing the notebooks at the real data files present in ``folder``."""
    env = {}
    for variable, relpaths in SHARED_DATA_FILES.items():
        candidates = (relpaths,) if isinstance(relpaths, str) else relpaths
        present = [relpath for relpath in candidates if (folder / relpath).is_file()]
        if present:
            env[variable] = str(folder / present[0])
            env.update(SHARED_DATA_SETTINGS.get((variable, present[0]), {}))
    return env


def collapse_progress(nb) -> None:
    """Keep only the final state of each progress-bar line in stream outputs.

    tqdm redraws a line with carriage returns; a terminal shows the last draw, but the notebook
    file would keep every redraw (megabytes for a paper run). Bars cleared on exit (``leave=False``)
    leave nothing. The kernel sends redraws as separate messages, so consecutive outputs of one
    stream are joined first.
    """
    for cell in nb.cells:
        cell["outputs"] = _join_consecutive_streams(cell.get("outputs", []))
        for output in cell["outputs"]:
            if output.get("output_type") != "stream" or "\r" not in output["text"]:
                continue
            lines = []
            for line in output["text"].split("\n"):
                final = line.rstrip("\r").rsplit("\r", 1)[-1]
                if final.strip() or "\r" not in line:
                    lines.append(final)
            output["text"] = "\n".join(lines)


def _join_consecutive_streams(outputs):
    joined = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous["name"] == output["name"]):
            previous["text"] += output["text"]
        else:
            joined.append(output)
    return joined


def execute(notebook: Path, output: Path, profile: str, timeout: int | None = None) -> float:
    """Run ``notebook`` (from its source, with its parameters) in the repository root and write it
    to ``output`` atomically. Returns the run time in seconds. If a cell fails (or the kernel dies),
    papermill's notebook with the outputs so far goes to ``NAME.failed.ipynb`` beside ``output``
    (in ``results/executed/`` for an in-place run, never over the committed notebook) and the
    error is raised."""
    source, parameters = source_and_parameters(notebook, profile)
    folder = DEFAULT_OUTPUT_DIR if output.resolve() == notebook.resolve() else output.parent
    running = folder / f"{notebook.stem}.running.ipynb"
    failed = folder / f"{notebook.stem}.failed.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        # papermill writes as it goes; to a scratch path, so a half-run never replaces ``output``
        nb = papermill.execute_notebook(source, str(running), parameters=parameters,
                                        kernel_name="python3", language="python", cwd=str(ROOT),
                                        progress_bar=False,
                                        execution_timeout=timeout)
    except Exception:
        _tidy(running, failed)
        print(f"  {notebook.name} failed; its outputs up to the failure are in {failed}",
              file=sys.stderr)
        raise
    elapsed = time.perf_counter() - start
    _save(nb, output)
    running.unlink(missing_ok=True)
    return elapsed


def render(notebook: Path) -> Path:
    """Rewrite a rendered notebook (see ``RENDERED``) from its source without running it, and
    without the source's outputs (run it to fill its own)."""
    source, parameters = source_and_parameters(notebook, "fast")
    parameters.pop("PROFILE")
    nb = papermill.execute_notebook(source, None, parameters=parameters, prepare_only=True,
                                    language="python",
                                    kernel_name="python3", progress_bar=False)
    for cell in nb.cells:  # the source's outputs were made with the source's parameters
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    _save(nb, notebook)
    return notebook


def _tidy(running: Path, failed: Path) -> None:
    """Keep a failed run's notebook (progress bars collapsed) as ``failed``."""
    if running.is_file():
        _save(nbformat.read(running, as_version=4), failed)
        running.unlink()


def strip_machine_paths(nb, folder: Path = ROOT.parent) -> None:
    """Show paths under ``folder`` (the one that holds the project) relative to it in outputs and
    in papermill's metadata: a committed notebook names ``shared/data/...``, not this machine's
    directories."""
    prefix = str(folder).rstrip("/") + "/"
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = output["text"].replace(prefix, "")
            plain = output.get("data", {}).get("text/plain")
            if isinstance(plain, str):
                output["data"]["text/plain"] = plain.replace(prefix, "")
    run = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if isinstance(run.get(key), str):
            run[key] = Path(run[key]).name


def _save(nb, path: Path) -> None:
    collapse_progress(nb)
    strip_machine_paths(nb)
    write_atomically(path, lambda temporary: nbformat.write(nb, temporary))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every numbered notebook")
    parser.add_argument("--profile", choices=PROFILES, default=os.environ.get("RGD_PROFILE", "fast"))
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--inplace", action="store_true", help="overwrite the notebooks themselves")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the rendered notebooks from their source (no run)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks run side by side, each with its share of the CPU threads")
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_SHARED_DATA,
                        help="folder of real data used where present (default: ../shared/data)")
    args = parser.parse_args(argv)
    if args.render:
        for name in RENDERED:
            print(f"rendered {render(ROOT / name).name} from {RENDERED[name][0]}")
        return 0
    for variable, value in shared_data_environment(args.shared_data).items():
        if variable not in os.environ:  # what the user set wins
            os.environ[variable] = value
            print(f"data: {variable}={value}")
    notebooks = args.notebooks or notebooks_in(ROOT)
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    notebooks = [ROOT / nb.name if not nb.is_absolute() and not nb.exists() else nb
                 for nb in notebooks]
    targets = [nb if args.inplace else args.output_dir / nb.name for nb in notebooks]
    run_all(notebooks, targets, args.profile, args.jobs)
    return 0


def run_all(notebooks, targets, profile, jobs=1):
    """Execute the notebooks, ``jobs`` at a time. Each kernel gets an equal share of the CPU
    threads and spreads its fits over as many one-thread worker processes (``RGD_WORKERS``, unless
    set): small batched matrix products use one thread poorly and two barely better, so two fits
    side by side finish sooner than one after the other."""
    print(f"running {len(notebooks)} notebook(s), {profile} profile, {jobs} at a time", flush=True)
    if profile == "paper":  # hours of fits: a stopped run resumes from the ones it finished
        os.environ.setdefault(CACHE_VARIABLE, str(ROOT / "results" / "cache"))
    if jobs == 1:
        os.environ.setdefault(WORKERS_VARIABLE, str(os.cpu_count() or 1))
        for nb, target in zip(notebooks, targets):
            _report(nb, target, execute(nb, target, profile))
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, initializer=_limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(execute, nb, target, profile): (nb, target)
                   for nb, target in zip(notebooks, targets)}
        for future in as_completed(futures):
            _report(*futures[future], future.result())


def _limit_threads(threads):
    """Kernels started from this worker use ``threads`` threads (torch reads these at import)
    and as many fit workers, unless ``RGD_WORKERS`` is set."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    os.environ.setdefault(WORKERS_VARIABLE, str(threads))


def _report(notebook, target, seconds):
    print(f"  {notebook.name} done in {seconds / 60:.1f} min -> {target}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
