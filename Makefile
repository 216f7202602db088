# Two commands reproduce everything: `make notebooks` and `make test` (see README.md).
VENV    ?= .venv
PYTHON  ?= python3
PROFILE ?= fast
PY      := $(VENV)/bin/python

.PHONY: install notebooks paper test benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## Execute every notebook (copies under results/executed/); PROFILE=paper for the paper's settings
notebooks: install
	$(PY) scripts/run_notebooks.py --profile $(PROFILE)

## Refresh the committed notebooks' outputs with a full paper run (maintainers)
paper: install
	$(PY) scripts/run_notebooks.py --profile paper --inplace

## Unit tests, then every notebook executed in the fast profile
test: install
	TQDM_DISABLE=1 $(PY) -m pytest

benchmark: install
	$(PY) benchmarks/bench_training.py

clean:
	rm -rf results/executed .pytest_cache
