"""Execute the paper notebooks top to bottom with papermill.

By default each notebook runs as a copy written to ``results/executed/`` so the committed notebooks
(which carry the outputs of a full ``paper`` run) are never rewritten. ``--inplace`` refreshes the
committed outputs; maintainers use it with ``--profile paper``. The profile reaches the kernel as
``RGD_PROFILE``, which each notebook's parameters cell reads (default ``fast``), so no
parameters cell is injected: a committed notebook rerun with ``jupyter nbconvert --execute`` runs
the fast profile, whatever profile made its outputs (its first output says which).

In the paper profile finished groups of fits are kept in ``results/cache/`` (``RGD_FIT_CACHE``,
:mod:`rgdkit.files.fit_cache`): a run that is stopped, after hours of hmtDNA fits, resumes from
them; the keys cover the training code's source, so a change to it refits.

The two hmtDNA notebooks have one source: ``3_hmtDNA_rsrs.ipynb``. ``3_hmtDNA_rcrs.ipynb`` is that
notebook with ``REFERENCE = "rcrs"`` in its parameters cell: ``--render`` rewrites it from the
source without running (keeping its own outputs, cell by cell), and a run of it runs the source
rendered so.

    python -m rgdkit.notebooks.runner                      # all notebooks, fast profile
    python -m rgdkit.notebooks.runner --profile paper 2_BranchingDiffusion.ipynb
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor, as_completed
import contextlib
import copy
import logging
import os
import re
import sys
import time
from pathlib import Path

import nbformat
import papermill

from rgdkit.experiments.profiles import PROFILE_VARIABLE, PROFILES, check_profile, current_profile
from rgdkit.experiments.workers import WORKERS_VARIABLE
from rgdkit.files.fit_cache import CACHE_VARIABLE
from rgdkit.files.atomic import write_atomically
from rgdkit.notebooks.environment import (  # noqa: F401 (the data settings, re-exported)
    GENBANK_TABLE, KGP_REPORT, ROOT, SHARED_DATA_FILES, SHARED_DATA_SETTINGS, shared_data_environment,
    shared_data_folder, use_shared_data)

# papermill logs every parameters-cell line it cannot parse as a simple assignment
logging.getLogger("papermill.translators").setLevel(logging.ERROR)
DEFAULT_OUTPUT_DIR = ROOT / "results" / "executed"
DEFAULT_SHARED_DATA = shared_data_folder()
# notebooks rendered from another notebook's source: name -> (source, parameters written into
# its parameters cell)
RENDERED = {"3_hmtDNA_rcrs.ipynb": ("3_hmtDNA_rsrs.ipynb", {"REFERENCE": "rcrs"})}
# papermill's tag for the cell it injects after the parameters cell; never kept in a notebook
INJECTED_TAG = "injected-parameters"


def notebooks_in(folder: Path) -> list[Path]:
    """The numbered notebooks at the top level, in reading order."""
    return sorted(p for p in folder.glob("[0-9]_*.ipynb"))


def notebook_to_run(notebook: Path):
    """The notebook a run of ``notebook`` executes: the file itself, or for a rendered notebook
    (``RENDERED``) its source rendered now, so that it runs the source's current code."""
    if notebook.name in RENDERED:
        return rendered_notebook(notebook, keep_outputs=False)
    return nbformat.read(notebook, as_version=4)


def collapse_progress(nb) -> None:
    """Keep only the final state of each progress-bar line in stream outputs.

    tqdm redraws a line with carriage returns; a terminal shows the last draw, but the notebook
    file would keep every redraw (megabytes for a paper run). Bars cleared on exit (``leave=False``)
    leave nothing. The kernel sends redraws as separate messages, so consecutive outputs of one
    stream are joined first.
    """
    for cell in nb.cells:
        if cell.get("cell_type") != "code":  # only code cells have outputs (nbformat's schema)
            continue
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
    """Run ``notebook`` (rendered from its source where it has one) in the repository root with
    ``RGD_PROFILE=profile`` and write it to ``output`` atomically. Returns the run time in
    seconds. If a cell fails (or the kernel dies), papermill's notebook with the outputs so far
    goes to ``NAME.failed.ipynb`` beside ``output`` (in ``results/executed/`` for an in-place run,
    never over the committed notebook) and the error is raised."""
    check_profile(profile)
    folder = DEFAULT_OUTPUT_DIR if output.resolve() == notebook.resolve() else output.parent
    running = folder / f"{notebook.stem}.running.ipynb"
    failed = folder / f"{notebook.stem}.failed.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        nb = _run_kernel(notebook, running, profile, timeout)
    except Exception:
        _tidy(running, failed)
        print(f"  {notebook.name} failed; its outputs up to the failure are in {failed}",
              file=sys.stderr)
        raise
    elapsed = time.perf_counter() - start
    nb.metadata.get("papermill", {})["input_path"] = notebook.name
    _save(nb, output)
    running.unlink(missing_ok=True)
    return elapsed


@contextlib.contextmanager
def _environment(variables):
    """``variables`` set in this process (and the kernels it starts) for the duration."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def set_parameters(cell, parameters: dict) -> None:
    """Write ``parameters`` (name -> value) into a parameters cell's assignments ``NAME = ...``,
    keeping each line's comment; a name the cell does not assign raises ValueError."""
    source = cell.source
    for name, value in parameters.items():
        pattern = re.compile(rf"^{re.escape(name)} = [^#\n]*?(\s*#.*)?$", re.MULTILINE)
        literal = repr(value).replace("'", '"') if isinstance(value, str) else repr(value)
        source, count = pattern.subn(lambda m: f"{name} = {literal}{m.group(1) or ''}", source)
        if count != 1:
            raise ValueError(f"the parameters cell assigns {name} {count} times; expected once")
    cell.source = source


def parameters_cell(nb):
    """The notebook's one cell tagged ``parameters``."""
    cells = [cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def rendered_notebook(notebook: Path, keep_outputs: bool = True):
    """A rendered notebook (see ``RENDERED``) built from its source: the source's cells, with the
    rendered notebook's parameters written into its parameters cell, without the source's
    outputs. With ``keep_outputs``, a cell whose id the existing ``notebook`` also has keeps that
    cell's outputs and execution count there (they were made with its own parameters), and the
    notebook keeps its metadata; other code cells have none (run it to fill them)."""
    source_name, parameters = RENDERED[notebook.name]
    nb = nbformat.read(notebook.parent / source_name, as_version=4)
    nb.cells = [cell for cell in nb.cells if INJECTED_TAG not in cell.metadata.get("tags", [])]
    set_parameters(parameters_cell(nb), parameters)
    previous = nbformat.read(notebook, as_version=4) if keep_outputs and notebook.is_file() else None
    own = {cell.get("id"): cell for cell in previous.cells} if previous is not None else {}
    for cell in nb.cells:
        mine = own.get(cell.get("id"))
        if mine is not None and mine.cell_type == cell.cell_type:
            tags = cell.metadata.get("tags")  # the source's tags, its own run's timings
            cell.metadata = copy.deepcopy(mine.metadata)
            cell.metadata.pop("tags", None)
            if tags is not None:
                cell.metadata["tags"] = tags
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = copy.deepcopy(mine.outputs), mine.execution_count
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if previous is not None:
        nb.metadata = copy.deepcopy(previous.metadata)
    return nb


def render(notebook: Path) -> Path:
    """Rewrite a rendered notebook (see ``RENDERED``) from its source without running it: its
    code and text are the source's, with its own parameters; its outputs stay where a cell
    already had them (:func:`rendered_notebook`)."""
    _save(rendered_notebook(notebook), notebook)
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


def make_valid(nb) -> None:
    """Give every cell only the fields nbformat's schema allows it: markdown and raw cells no
    ``outputs`` or ``execution_count`` (an older cleanup gave every cell an ``outputs`` list)."""
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)


def _save(nb, path: Path) -> None:
    collapse_progress(nb)
    strip_machine_paths(nb)
    make_valid(nb)
    write_atomically(path, lambda temporary: nbformat.write(nb, temporary))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every numbered notebook")
    parser.add_argument("--profile", choices=PROFILES, default=None,
                        help="default: $RGD_PROFILE, else fast")
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
    profile = args.profile or current_profile()
    for variable, value in use_shared_data(args.shared_data).items():  # what the user set wins
        print(f"data: {variable}={value}")
    notebooks = args.notebooks or notebooks_in(ROOT)
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    notebooks = [ROOT / nb.name if not nb.is_absolute() and not nb.exists() else nb
                 for nb in notebooks]
    targets = [nb if args.inplace else args.output_dir / nb.name for nb in notebooks]
    run_all(notebooks, targets, profile, args.jobs)
    return 0


KERNEL_STARTS = 3  # tries for a kernel that dies before running a cell


def _run_kernel(notebook, running, profile, timeout):
    """papermill's run of ``notebook`` through the scratch file ``running``. A kernel that dies
    before its first cell ran is started again, up to :data:`KERNEL_STARTS` times: kernels
    started side by side pick their ports by binding and releasing them, so two may race for one
    port and one dies ("Address already in use"); nothing had run, so a new start is harmless."""
    for start in range(1, KERNEL_STARTS + 1):
        nb = notebook_to_run(notebook)
        for cell in nb.cells:  # the committed outputs' counts would read as cells that ran
            if cell.cell_type == "code":
                cell.execution_count, cell.outputs = None, []
        nbformat.write(nb, running)
        try:
            # the kernel inherits the profile; papermill writes as it goes, to the scratch path,
            # so a half-run never replaces the output
            with _environment({PROFILE_VARIABLE: profile}):
                return papermill.execute_notebook(
                    str(running), str(running), kernel_name="python3", language="python",
                    cwd=str(ROOT), progress_bar=False, execution_timeout=timeout)
        except RuntimeError as error:  # nbclient's DeadKernelError is one
            if start == KERNEL_STARTS or _any_cell_ran(running):
                raise
            print(f"  {notebook.name}: the kernel died before its first cell ({error}); "
                  "starting it again", file=sys.stderr, flush=True)


def _any_cell_ran(path):
    cells = nbformat.read(path, as_version=4).cells
    return any(cell.get("execution_count") is not None for cell in cells)


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
