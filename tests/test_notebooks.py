"""The committed notebooks as files, and every one of them executed the way users run it.

The committed notebooks are never rewritten: ``jupyter nbconvert --execute`` runs a copy of each in
a temporary folder, in the ``smoke`` profile (``RGD_PROFILE=smoke``), with results (figures,
tables) going to a temporary ``RGD_RESULTS_DIR``. Where the real data beside the project is
present, the notebooks find it themselves, as a user's run does.
"""
import ast
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, SHARED_DATA
from rgdkit.experiments import paper
from rgdkit.experiments.profiles import PROFILE_VARIABLE
from rgdkit.notebooks.environment import SHARED_DATA_FILES, SHARED_DATA_SETTINGS
from rgdkit.notebooks.runner import (INJECTED_TAG, RENDERED, collapse_progress, execute, make_valid,
                                     notebooks_in, parameters_cell, rendered_notebook, run_all,
                                     shared_data_environment, strip_machine_paths)


def hmtdna_spec(reference):
    return {
        "figures": [f"hmtdna_{reference}_variants_per_genome",
                    f"hmtdna_{reference}_variant_frequencies", f"hmtdna_{reference}_shepard",
                    f"hmtdna_{reference}_sigma_sweep", f"hmtdna_{reference}_haplogroups",
                    f"hmtdna_{reference}_depth_region", f"hmtdna_{reference}_classification",
                    f"hmtdna_{reference}_nj_tree"],
        "tables": [f"hmtdna_{reference}_table3", f"hmtdna_{reference}_table3_vs_paper",
                   f"hmtdna_{reference}_classification", f"hmtdna_{reference}_nj_trees"],
        "finite": [f"hmtdna_{reference}_classification", f"hmtdna_{reference}_nj_trees"],
        "paper_table": f"hmtdna_{reference}_table3",
        "data_says": "genbank_rcrs_shared.tsv.gz",
    }


# what each notebook must leave under results/: figure stems (PNG and PDF), CSV tables, files;
# "data_says": what its first output names on real data;
# "paper_table": the paper table it saves (rgdkit.experiments.paper); "finite": tables whose numbers must all be finite
EXPECTED = {
    "1_CellCycle.ipynb": {
        "figures": ["cellcycle_one_fit", "cellcycle_umap", "cellcycle_sphere_torus",
                    "cellcycle_euclidean", "cellcycle_noise_sphere", "cellcycle_shepard",
                    "cellcycle_vae_latents", "cellcycle_pullback", "cellcycle_generation"],
        "tables": ["cellcycle_table1", "cellcycle_table1_vs_paper", "cellcycle_noise", "cellcycle_noise_numeric", "cellcycle_pullback_phase_pairs",
                   "cellcycle_pullback_correlation", "cellcycle_vae_failures", "cellcycle_generation",
                   "generation_densities"],
        "finite": ["cellcycle_pullback_correlation", "cellcycle_generation", "generation_densities"],
        "files": ["cellcycle_rgd.h5ad"],
        "paper_table": "cellcycle_table1",
        "data_says": "peco_ipsc_101genes.h5ad",
    },
    "2_BranchingDiffusion.ipynb": {
        "figures": ["branching_poincare_disk", "branching_baselines", "branching_sigma_ablation",
                    "branching_curvature_sigma_grid", "branching_training_curves",
                    "branching_pvae_disk", "branching_pullback", "branching_sigma_errorbars",
                    "branching_curvature_sigma_heatmap", "branching_generation",
                    "branching_shepard", "branching_pullback_uncertainty"],
        "tables": ["branching_table2", "branching_table2_vs_paper", "branching_sigma_ablation", "branching_curvature_sigma_grid",
                   "branching_pvae_failures", "branching_pullback_leaf_pairs",
                   "branching_pullback_correlation", "branching_generation", "branching_priors",
                   "generation_densities", "branching_pullback"],
        "paper_table": "branching_table2",
        "finite": ["branching_pullback_correlation", "branching_generation", "branching_pullback",
                   "generation_densities"],
        "data_says": "tensordataset.npz",
    },
    "3_hmtDNA_rsrs.ipynb": hmtdna_spec("rsrs"),
    "3_hmtDNA_rcrs.ipynb": hmtdna_spec("rcrs"),
}


MAX_COMMITTED_BYTES = 5_000_000  # committed notebooks carry outputs; keep them readable on GitHub


def first_output_text(nb):
    """The printed text of the first cell that has outputs: it must say profile and data."""
    for cell in nb.cells:
        if cell.get("outputs"):
            return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return ""


def test_every_notebook_has_a_driver_entry():
    assert {p.name for p in notebooks_in(ROOT)} <= set(EXPECTED)


@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_parameters_cell_only_assigns(notebook):
    """papermill injects its parameters in a cell *after* the parameters cell, so a value derived
    there from another parameter (``SETTINGS = {...}[PROFILE]``) would keep the default's value."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{notebook.name}: one cell tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert not assigned & used, (f"{notebook.name}: the parameters cell uses parameters "
                                 f"{sorted(assigned & used)}; compute from them in a later cell")


@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_committed_notebook_is_small_and_says_what_produced_it(notebook):
    assert notebook.stat().st_size < MAX_COMMITTED_BYTES, f"{notebook.name} is too large to commit"
    nb = nbformat.read(notebook, as_version=4)
    if any(cell.get("outputs") for cell in nb.cells):
        header = first_output_text(nb)
        assert "profile:" in header and "data:" in header, f"{notebook.name}: first output {header!r}"


def test_collapse_progress_keeps_the_last_draw_only():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fit()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                           text="fit: 1%\rfit: 50%\rfit: 100%\n\r    \r\nprinted\n")]
    nb.cells = [cell]
    collapse_progress(nb)
    assert cell.outputs[0]["text"] == "fit: 100%\nprinted\n"


def test_collapse_progress_joins_redraws_sent_as_separate_outputs():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fit()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=text)
                    for text in ("\rfit: 1%", "\rfit: 50%", "\rfit: 100%\n")]
    cell.outputs.insert(2, nbformat.v4.new_output("stream", name="stdout", text="seed 0\n"))
    nb.cells = [cell]
    collapse_progress(nb)
    assert [(o["name"], o["text"]) for o in cell.outputs] == [
        ("stderr", "fit: 50%"), ("stdout", "seed 0\n"), ("stderr", "fit: 100%\n")]


def test_strip_machine_paths_leaves_paths_relative_to_the_projects_folder(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout",
                               text=f"data: using {tmp_path}/shared/data/a.npz (10 x 2)\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"'{tmp_path}/repo/x'"},
                               execution_count=1)]
    nb.metadata["papermill"] = {"input_path": "1_X.ipynb",
                                "output_path": f"{tmp_path}/repo/results/executed/1_X.ipynb"}
    strip_machine_paths(nb, tmp_path)
    text = nbformat.writes(nb)
    assert str(tmp_path) not in text
    assert "data: using shared/data/a.npz (10 x 2)" in nb.cells[0].outputs[0]["text"]
    assert nb.metadata["papermill"]["output_path"] == "1_X.ipynb"


@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_committed_notebook_names_no_machine_path(notebook):
    paths = re.findall(r"(?<![\w.~])/(?:home|tmp|work|root|Users|mnt|scratch)/[^\s\"']*",
                       notebook.read_text())
    assert not paths, f"{notebook.name} names machine paths: {sorted(set(paths))[:3]}"


def test_shared_data_environment_names_present_files_only(tmp_path):
    report = tmp_path / "hmtdna" / "1kgp_rcrs_haplogrep.txt.gz"
    report.parent.mkdir()
    report.write_bytes(b"x")
    small = {"RGD_HMTDNA_SMALL_SOURCE": str(report),
             "RGD_HMTDNA_SMALL_SOURCE_REFERENCE": "rcrs", "RGD_HMTDNA_SMALL_MIN_QUALITY": "0.8"}
    # without the GenBank table, the 1000 Genomes report is also the notebooks' source
    assert shared_data_environment(tmp_path) == {
        "RGD_HMTDNA_SOURCE": str(report), "RGD_HMTDNA_SOURCE_REFERENCE": "rcrs",
        "RGD_MIN_QUALITY": "0.8", **small}
    genbank = tmp_path / "hmtdna" / "genbank_rcrs_shared.tsv.gz"
    genbank.write_bytes(b"x")
    assert shared_data_environment(tmp_path) == {
        "RGD_HMTDNA_SOURCE": str(genbank), "RGD_HMTDNA_SOURCE_REFERENCE": "rcrs",
        "RGD_MIN_QUALITY": "0.9", **small}


def test_a_failing_run_keeps_its_outputs_beside_the_output_and_raises(tmp_path):
    notebook = tmp_path / "9_Broken.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('computed first')"),
                                         nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(nb, notebook)
    with pytest.raises(Exception, match="ZeroDivisionError"):
        execute(notebook, tmp_path / "out" / notebook.name, "fast")
    assert not (tmp_path / "out" / notebook.name).exists()
    failed = nbformat.read(tmp_path / "out" / "9_Broken.failed.ipynb", as_version=4)
    code = [cell for cell in failed.cells if cell.cell_type == "code"]
    assert "computed first" in code[-2].outputs[0]["text"]
    assert code[-1].outputs[0]["ename"] == "ZeroDivisionError"


def test_parallel_runs_write_every_notebook_and_share_the_threads(tmp_path):
    notebooks = []
    for name in ("8_A.ipynb", "9_B.ipynb"):
        code = "import os\nprint('threads', os.environ.get('OMP_NUM_THREADS'))"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]),
                       tmp_path / name)
        notebooks.append(tmp_path / name)
    targets = [tmp_path / "out" / nb.name for nb in notebooks]
    run_all(notebooks, targets, "fast", jobs=2)
    expected = max(1, (os.cpu_count() or 1) // 2)
    for target in targets:
        output = nbformat.read(target, as_version=4).cells[-1].outputs[0]["text"]
        assert output.strip() == f"threads {expected}"


@pytest.mark.parametrize("profile, kept", [("paper", True), ("fast", False)])
def test_only_the_paper_profile_keeps_finished_fits(profile, kept, tmp_path, monkeypatch):
    from rgdkit.notebooks import runner

    monkeypatch.setenv(runner.CACHE_VARIABLE, "")  # recorded, so the run's setting is undone
    monkeypatch.delenv(runner.CACHE_VARIABLE)
    monkeypatch.setenv(runner.WORKERS_VARIABLE, "1")
    seen = []
    monkeypatch.setattr(runner, "execute", lambda nb, target, profile: seen.append(
        os.environ.get(runner.CACHE_VARIABLE)) or 0.0)
    run_all([tmp_path / "1_A.ipynb"], [tmp_path / "out.ipynb"], profile)
    assert (seen[0] == str(ROOT / "results" / "cache")) if kept else seen[0] is None


def check_paper_table(results, table):
    """The saved table has the paper's columns, its rows marked in_paper (the fast profile may run
    a subset of them), our rows after them, and a comparison row for every published value."""
    frame = pd.read_csv(results / f"{table.name}.csv")
    assert list(frame.columns[:3]) == ["model", "in_paper", "n_seeds"]
    for column in table.columns():
        assert f"{column}_mean" in frame and f"{column}_std" in frame, f"{table.name} lacks {column}"
    ran = frame[frame.model.isin(table.labels())]
    assert len(ran) > 0 and ran.in_paper.all() and not frame[~frame.model.isin(table.labels())].in_paper.any()
    assert frame.in_paper.to_numpy()[:len(ran)].all(), "the paper's rows come first"
    beside = pd.read_csv(results / f"{table.name}_vs_paper.csv")
    published = sum(not k.endswith("_std") for row in table.rows for k in row.published)
    assert len(beside) == published and beside.paper.notna().all()


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_rendered_notebook_is_its_source_with_its_own_parameters(name):
    """``make render`` would change nothing: the committed rendered notebook has its source's
    cells, with its own parameters written into the parameters cell (no injected cell)."""
    source, parameters = RENDERED[name]
    committed = nbformat.read(ROOT / name, as_version=4)
    rendered = rendered_notebook(ROOT / name)
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in rendered.cells], f"{name} is stale: run `make render`"
    assert len(committed.cells) == len(nbformat.read(ROOT / source, as_version=4).cells)
    for key, value in parameters.items():
        assert f"{key} = {value!r}".replace("'", '"') in parameters_cell(committed).source


def test_render_keeps_the_rendered_notebooks_own_outputs(tmp_path, monkeypatch):
    from rgdkit.notebooks import runner

    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('REFERENCE = "a"  # which', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("text"), nbformat.v4.new_code_cell("print(REFERENCE)")])
    source.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n")]
    nbformat.write(source, tmp_path / "8_S.ipynb")
    monkeypatch.setitem(runner.RENDERED, "9_R.ipynb", ("8_S.ipynb", {"REFERENCE": "b"}))
    target = tmp_path / "9_R.ipynb"
    runner.render(target)  # first render: no outputs of its own yet
    nb = nbformat.read(target, as_version=4)
    assert nb.cells[0].source == 'REFERENCE = "b"  # which' and nb.cells[2].outputs == []
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="b\n")]
    nbformat.write(nb, target)
    source.cells.append(nbformat.v4.new_code_cell("new = 1"))
    nbformat.write(source, tmp_path / "8_S.ipynb")
    runner.render(target)
    nb = nbformat.read(target, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[2].outputs[0]["text"] == "b\n" and nb.cells[3].outputs == []
    run = runner.notebook_to_run(target)  # what a run of it executes: the source, rendered now
    assert run.cells[0].source == 'REFERENCE = "b"  # which' and run.cells[2].outputs == []


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_rendered_notebook_outputs_were_made_with_its_own_parameters(name):
    _, parameters = RENDERED[name]
    outputs = "".join(output.get("text", "") for cell in nbformat.read(ROOT / name, as_version=4).cells
                      for output in cell.get("outputs", []))
    if "REFERENCE" in parameters:  # the header names the reference the run used
        stated = set(re.findall(r"\| reference: (\w+) \|", outputs))
        assert stated <= {parameters["REFERENCE"].upper()}, f"{name}'s outputs say reference {stated}"


# ---- committed notebooks: valid files that any Jupyter tool reruns in the fast profile ---------
@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_committed_notebook_is_a_valid_notebook_file(notebook):
    nbformat.validate(nbformat.read(notebook, as_version=4))


@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_committed_notebook_has_no_injected_parameters(notebook):
    """A cell papermill injected (``PROFILE = "paper"``) would make every rerun a paper run."""
    nb = nbformat.read(notebook, as_version=4)
    assert not [c for c in nb.cells if INJECTED_TAG in c.metadata.get("tags", [])]
    assert "PROFILE = current_profile()" in parameters_cell(nb).source


def test_make_valid_leaves_outputs_to_code_cells():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"),
                                         nbformat.v4.new_code_cell("1")])
    nb.cells[0]["outputs"] = []
    collapse_progress(nb)
    make_valid(nb)
    nbformat.validate(nb)
    assert "outputs" not in nb.cells[0] and nb.cells[1].outputs == []


# what the notebooks read from the environment (RGD_SHARED_DATA, the folder, is left as set)
NOTEBOOK_VARIABLES = {PROFILE_VARIABLE, *SHARED_DATA_FILES,
                      *(key for settings in SHARED_DATA_SETTINGS.values() for key in settings)}


def first_cells(notebook, n_code, monkeypatch, tmp_path, environment=()):
    """The namespace after the first ``n_code`` code cells of ``notebook`` (the parameters and
    settings cells: nothing heavy), run in a foreign working directory with none of the
    notebooks' environment variables set but ``environment``."""
    for variable in NOTEBOOK_VARIABLES:
        monkeypatch.delenv(variable, raising=False)  # restored after the test, like the ones set
    for variable, value in dict(environment).items():
        monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    code = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    for source in code[:n_code]:
        exec(compile(source, notebook.name, "exec"), namespace)
    return namespace


@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_committed_notebook_runs_the_fast_profile_unless_told(notebook, monkeypatch, tmp_path):
    """Executed as nbconvert would (no variable set), the parameters and settings cells choose
    the fast profile; RGD_PROFILE chooses another; a wrong one fails in the first cell."""
    fast = first_cells(notebook, 2, monkeypatch, tmp_path)
    assert fast["PROFILE"] == "fast" and fast["SETTINGS"]["seeds"] == [0]
    paper_run = first_cells(notebook, 2, monkeypatch, tmp_path, {PROFILE_VARIABLE: "paper"})
    assert paper_run["PROFILE"] == "paper" and len(paper_run["SETTINGS"]["seeds"]) > 1
    smoke = first_cells(notebook, 2, monkeypatch, tmp_path, {PROFILE_VARIABLE: "smoke"})
    assert smoke["SETTINGS"]["epochs"] < fast["SETTINGS"]["epochs"]
    with pytest.raises(ValueError, match=r"RGD_PROFILE='bogus' is not a profile; use one of 'fast'"):
        first_cells(notebook, 1, monkeypatch, tmp_path, {PROFILE_VARIABLE: "bogus"})
    namespace = first_cells(notebook, 1, monkeypatch, tmp_path)
    namespace["PROFILE"] = "bogus"  # as papermill's -p PROFILE bogus would leave it
    settings = [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"][1]
    with pytest.raises(ValueError, match="PROFILE='bogus' is not a profile"):
        exec(compile(settings, notebook.name, "exec"), namespace)


@pytest.mark.parametrize("notebook", notebooks_in(ROOT), ids=lambda p: p.name)
def test_committed_notebook_finds_the_data_beside_the_project(notebook, monkeypatch, tmp_path,
                                                               shared_data):
    """From any working directory, the parameters cell points the loaders at ../shared/data
    (found from the repository), as the runner does; a variable the user set wins."""
    namespace = first_cells(notebook, 1, monkeypatch, tmp_path)
    assert namespace["SHARED_DATA"] == shared_data_environment(shared_data)
    for variable, value in namespace["SHARED_DATA"].items():
        assert os.environ[variable] == value
    mine = str(tmp_path / "mine.npz")
    namespace = first_cells(notebook, 1, monkeypatch, tmp_path, {"RGD_BRANCHING_NPZ": mine})
    assert "RGD_BRANCHING_NPZ" not in namespace["SHARED_DATA"] and os.environ["RGD_BRANCHING_NPZ"] == mine


def test_the_runner_passes_its_profile_without_injecting_a_cell(tmp_path, monkeypatch):
    monkeypatch.delenv(PROFILE_VARIABLE, raising=False)
    notebook = tmp_path / "9_P.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from rgdkit.experiments.profiles import current_profile\n"
                                  "PROFILE = current_profile()", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('profile', PROFILE)")])
    nbformat.write(nb, notebook)
    execute(notebook, tmp_path / "out" / notebook.name, "smoke")
    executed = nbformat.read(tmp_path / "out" / notebook.name, as_version=4)
    nbformat.validate(executed)
    assert len(executed.cells) == 2 and executed.cells[1].outputs[0]["text"] == "profile smoke\n"
    assert PROFILE_VARIABLE not in os.environ


# ---- every notebook executed as a user runs it: nbconvert, smoke profile, on copies ------------
def git_commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def nbconvert(notebook, folder, results):
    """``jupyter nbconvert --to notebook --execute`` of a copy of ``notebook`` in ``folder``, run
    from another working directory with ``RGD_PROFILE=smoke`` and one thread (two run side by
    side). Returns (exit status, executed copy, log, seconds)."""
    copy = folder / notebook.name
    shutil.copy(notebook, copy)
    env = {**os.environ, PROFILE_VARIABLE: "smoke", "RGD_RESULTS_DIR": str(results),
           "MPLBACKEND": "Agg", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for variable in NOTEBOOK_VARIABLES - {PROFILE_VARIABLE}:
        env.pop(variable, None)  # what the notebook finds by itself
    jupyter = Path(sys.executable).with_name("jupyter")
    start = time.perf_counter()
    run = subprocess.run([str(jupyter), "nbconvert", "--to", "notebook", "--execute", str(copy),
                          "--output", copy.stem + ".executed", "--ExecutePreprocessor.timeout=900"],
                         cwd=folder.parent, env=env, capture_output=True, text=True)
    return run.returncode, folder / f"{copy.stem}.executed.ipynb", run.stderr, time.perf_counter() - start


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """Every notebook executed once by nbconvert in the smoke profile, two at a time; the
    committed files are compared before and after."""
    root = tmp_path_factory.mktemp("smoke")
    names = sorted(EXPECTED)
    before = {name: (ROOT / name).read_bytes() for name in names}
    jobs = {}
    with ThreadPoolExecutor(2) as pool:
        for name in names:
            folder, results = root / Path(name).stem / "run", root / Path(name).stem / "results"
            folder.mkdir(parents=True)
            jobs[name] = (pool.submit(nbconvert, ROOT / name, folder, results), results)
    runs = {name: (*job.result(), results) for name, (job, results) in jobs.items()}
    for name, (_, _, _, seconds, _) in runs.items():
        print(f"{name}: {seconds:.0f} s in the smoke profile (nbconvert, two side by side)")
    for name in names:
        assert (ROOT / name).read_bytes() == before[name], f"{name} was rewritten"
    return runs


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_under_nbconvert_in_the_smoke_profile_and_saves_results(name, smoke_runs):
    returncode, executed_path, log, _, results = smoke_runs[name]
    assert returncode == 0, f"{name} failed under nbconvert:\n{log[-3000:]}"
    assert "Notebook JSON is invalid" not in log, log[-3000:]
    executed = nbformat.read(executed_path, as_version=4)
    nbformat.validate(executed)
    header = first_output_text(executed)
    spec = EXPECTED[name]
    assert "profile: smoke" in header, header
    if SHARED_DATA.is_dir():  # found beside the project, though the copy ran elsewhere
        assert spec["data_says"] in header, header
    code = re.search(r"\| code: ([0-9a-f]{12})( \+ uncommitted changes)? \|", header)
    assert code, f"{name}: the first output names no commit: {header!r}"
    if git_commit():
        assert code.group(1) == git_commit()
    one_fit = [c for c in executed.cells if c.cell_type == "code" and "rgd.RiemannianDecoder(" in c.source]
    assert len(one_fit) == 1 and "seed 0:" in first_output_text(nbformat.v4.new_notebook(cells=one_fit))
    for stem in spec["figures"]:
        for suffix in (".png", ".pdf"):
            path = results / f"{stem}{suffix}"
            assert path.exists() and path.stat().st_size > 1000, f"{path.name} missing or empty"
    for stem in spec["tables"]:
        table = pd.read_csv(results / f"{stem}.csv")
        assert len(table) > 0, f"{stem}.csv is empty"
    check_paper_table(results, paper.table(spec["paper_table"]))
    for stem in spec.get("finite", []):
        numbers = pd.read_csv(results / f"{stem}.csv").select_dtypes("number").to_numpy(dtype=float)
        assert np.isfinite(numbers).all(), f"{stem}.csv has non-finite values"
    for filename in spec.get("files", []):
        assert (results / filename).stat().st_size > 0, f"{filename} missing or empty"


def test_a_kernel_that_dies_before_its_first_cell_is_started_again(tmp_path, monkeypatch, capsys):
    """Kernels started side by side can race for a port; the one that loses dies before running
    anything and is started again, while a failure after a cell ran is raised."""
    from rgdkit.notebooks import runner

    notebook = tmp_path / "8_A.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=7)]),
                   notebook)
    starts = []

    def dies_once(path, *args, **kwargs):
        starts.append(path)
        if len(starts) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].execution_count = 1
        return nb
    monkeypatch.setattr(runner.papermill, "execute_notebook", dies_once)
    runner.execute(notebook, tmp_path / "out" / notebook.name, "smoke")
    assert len(starts) == 2 and "starting it again" in capsys.readouterr().err

    def fails_in_a_cell(path, *args, **kwargs):
        starts.append(path)
        nb = nbformat.read(path, as_version=4)
        nb.cells[0].execution_count = 1
        nbformat.write(nb, path)
        raise RuntimeError("a cell failed")
    monkeypatch.setattr(runner.papermill, "execute_notebook", fails_in_a_cell)
    starts.clear()
    with pytest.raises(RuntimeError, match="a cell failed"):
        runner.execute(notebook, tmp_path / "out" / notebook.name, "smoke")
    assert len(starts) == 1
