# Two commands reproduce everything: `make notebooks` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
PROFILE ?= fast
JOBS    ?= 2
PY      := $(VENV)/bin/python

.PHONY: install notebooks paper render lab test benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

## Execute every notebook (copies under results/executed/); PROFILE=paper for the paper's settings;
## JOBS notebooks side by side (default 2), each with its share of the CPU threads
notebooks: install
	$(PY) -m rgdkit.notebooks.runner --profile $(PROFILE) --jobs $(JOBS)

## Refresh the committed notebooks' outputs with a full paper run (maintainers)
paper: install
	$(PY) -m rgdkit.notebooks.runner --profile paper --inplace --jobs $(JOBS)

## Rewrite 3_hmtDNA_rcrs.ipynb from its source, 3_hmtDNA_rsrs.ipynb (no run)
render: install
	$(PY) -m rgdkit.notebooks.runner --render

## Open the notebooks in JupyterLab
lab: install
	$(VENV)/bin/jupyter lab

## Unit tests, then every notebook executed by nbconvert in the smoke profile (copies in a temp dir)
test: install
	TQDM_DISABLE=1 $(PY) -m pytest

benchmark: install
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf results/executed .pytest_cache
