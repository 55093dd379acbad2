# Two commands for readers: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(shell find chapters -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)

.PHONY: book test unit nbval execute bench clean venv

venv: $(STAMP)

# Re-install only when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (lstm book)" >/dev/null
	touch $(STAMP)

book: $(STAMP)
	$(VENV)/bin/jupyter-book build . --builder html -W --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

test: unit nbval

unit: $(STAMP)
	$(PY) -m pytest -q tests

# Strict nbval (not --nbval-lax): every stored output must match a fresh run.
nbval: $(STAMP)
	$(PY) -m pytest -q --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout=600 -p no:cacheprovider $(NOTEBOOKS)

# Re-run every notebook in place, top to bottom in a fresh kernel (refreshes outputs).
execute: $(STAMP)
	$(PY) -m tools.execute_notebooks $(NOTEBOOKS)

bench: $(STAMP)
	$(PY) benchmarks/bench_lstm.py

clean:
	rm -rf _build
