# Two commands for readers: `make book` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(shell find chapters -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)

.PHONY: book book-teacher slides test unit nbval nbval-variations execute bench clean venv diagrams lab

# The book's Jupyter kernel: the notebooks name it (tools/notebook_setup.py sets it),
# `make venv` installs it into .venv, nbval and `make execute` run it. Its own name,
# not `python3`, so that a user's `python3` kernel elsewhere cannot stand in for it.
KERNEL_NAME := lstm-book
KERNEL_DISPLAY := Python 3 (lstm book)

venv: $(STAMP)

# Re-install only when the pins or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt $(TORCH_INDEX:%=--extra-index-url %)
	$(PY) -m pip install --quiet --no-deps -e .
	rm -rf $(VENV)/share/jupyter/kernels/python3  # its former name, in older .venvs
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL_NAME) \
		--display-name "$(KERNEL_DISPLAY)" >/dev/null
	touch $(STAMP)

# The student book: solutions hidden (hide_solutions in _config.yml). MathJax,
# RequireJS and the widget manager are fetched from npm once into
# _build/offline_assets and served from the book (tools/offline_assets.py); without
# npm or a network the build says so and falls back to the CDN.
book: $(STAMP)
	$(REPO_ENV) $(VENV)/bin/jupyter-book build . --builder html -W --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"
	@$(REPO_ENV) $(PY) -m tools.repository --describe

# The teacher's book, every solution shown (BOOK_TEACHER=1, read by tools/solutions.py).
# jupyter-book writes it to _build/teacher/_build/html; _build/teacher/html links there.
book-teacher: $(STAMP)
	BOOK_TEACHER=1 $(REPO_ENV) $(VENV)/bin/jupyter-book build . --builder html -W \
		--keep-going \
		--path-output _build/teacher
	ln -sfn _build/html _build/teacher/html
	@echo "The teacher's book is at file://$(CURDIR)/_build/teacher/html/index.html"

# Each chapter notebook as a reveal.js deck in _build/slides (cell metadata
# slideshow.slide_type picks the slides; remove-cell and hide-input cells are left
# out as in the book). reveal.js, RequireJS, MathJax 2 (which nbconvert's template
# expects) and the widget manager are fetched from npm beside the decks, else loaded
# from a CDN. Still from a CDN, harmless offline: jQuery (used only with scroll:
# true), mermaid, the theme's web fonts.
MATHJAX2 := assets/mathjax2/MathJax.js?config=TeX-AMS_CHTML-full,Safe
slides: $(STAMP)
	mkdir -p _build/slides
	if $(PY) -m tools.offline_assets --slides _build/slides/assets; then \
		assets="--SlidesExporter.reveal_url_prefix=assets/reveal.js \
			--HTMLExporter.require_js_url=assets/requirejs/require.js \
			--HTMLExporter.mathjax_url=$(MATHJAX2) \
			--HTMLExporter.widget_renderer_url=assets/html-manager/dist/embed-amd.js"; \
	else echo "make slides: could not fetch reveal.js; FALLING BACK TO THE CDN"; fi; \
	$(VENV)/bin/jupyter-nbconvert --to slides --output-dir _build/slides $$assets \
		--TagRemovePreprocessor.enabled=True \
		--TagRemovePreprocessor.remove_cell_tags=remove-cell \
		--TagRemovePreprocessor.remove_input_tags=hide-input $(NOTEBOOKS)
	@echo "Slides: file://$(CURDIR)/_build/slides/ (open a .slides.html file)"

# The book is built first so that the browser test (tests/test_browser.py) sees
# the current HTML.
test: book unit nbval

unit: $(STAMP)
	$(PY) -m pytest -q tests

# The C++ kernel of the peephole path is built (or found) before any notebook
# runs, so that its one-off "compiling..." message, or the warning that it cannot
# be built, is printed here and not inside a checked cell; where it cannot be
# built, the notebooks run on the pure-PyTorch path, chosen explicitly.
KERNEL := if $(PY) -m lstm_core.cpu_kernel; then path=; else \
	path=LSTM_CORE_PURE_TORCH=1; echo "Notebooks: pure-PyTorch peephole path"; fi

# Strict nbval (not --nbval-lax): every stored output must match a fresh run.
nbval: $(STAMP)
	@$(KERNEL); env $$path $(PY) -m pytest -q --nbval \
		--nbval-kernel-name $(KERNEL_NAME) \
		--nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout=600 -p no:cacheprovider $(NOTEBOOKS)

# JupyterLab on the book's folder (LAB_DIR), its file browser at chapters/, new
# notebooks on the book's kernel, ipykernel's built-in `python3` (the same Python)
# hidden so that the launcher offers the book's kernel alone. It prints the URL to
# open, with its token, and opens a browser where there is one; Ctrl-C twice stops
# it. LAB_ARGS passes options (e.g. --no-browser, --port=8899); tests/test_lab.py
# runs it on a copy of chapters/. As root (a container) it adds --allow-root, which
# Jupyter asks for there.
LAB_DIR := $(CURDIR)
LAB_ARGS :=
lab: $(STAMP)
	@$(KERNEL); root=; [ "$$(id -u)" != 0 ] || root=--allow-root; \
	echo "Starting JupyterLab on $(LAB_DIR), kernel \"$(KERNEL_DISPLAY)\": \
	open the http://localhost:...?token=... URL printed below (Ctrl-C twice stops it)"; \
	exec env $$path $(VENV)/bin/jupyter lab $$root --ServerApp.root_dir="$(LAB_DIR)" \
		--LabApp.default_url=/lab/tree/chapters \
		--MappingKernelManager.default_kernel_name=$(KERNEL_NAME) \
		--KernelSpecManager.ensure_native_kernel=False $(LAB_ARGS)

# Re-run every notebook in place, top to bottom in a fresh kernel (refreshes outputs).
execute: $(STAMP)
	@$(KERNEL); env $$path $(PY) -m tools.execute_notebooks $(NOTEBOOKS)

# One-off, before committing a notebook (never in `make test` or CI): `make nbval`
# under other CPUs' numeric paths, thread counts and without a compiler.
nbval-variations: $(STAMP)
	tools/nbval_variations.sh

bench: $(STAMP)
	$(PY) benchmarks/bench_lstm.py

# The diagrams (tools/diagrams/: one module each), redrawn as committed SVGs.
diagrams: $(STAMP)
	$(PY) -m tools.diagrams

clean:
	rm -rf _build

# ---- Handing the book out (README, "For a class") ----
.PHONY: pdf student-notebooks links

# PyTorch's CPU-only wheels, for a Linux machine without a GPU (a fresh .venv):
# `make venv TORCH_INDEX=https://download.pytorch.org/whl/cpu`. Unset, pip uses its
# configured indexes as before (PyPI's Linux torch is the CUDA build, gigabytes).
TORCH_INDEX ?=

# The repository the launch buttons point at, for one build; unset, _config.yml's
# repository.url and .branch (tools/repository.py).
REPO_URL ?=
REPO_BRANCH ?=
REPO_ENV = BOOK_REPO_URL="$(REPO_URL)" BOOK_REPO_BRANCH="$(REPO_BRANCH)"

# The whole book as one PDF through Jupyter Book's LaTeX builder and XeLaTeX
# (TeX Live; `python -m tools.print_book --check` names Debian's packages). The
# student book, as `make book`; widgets and players are printed as their static
# twins and hide-input code is left out (tools/print_book.py). tests/test_pdf.py
# builds it too where it is missing or older than the book (TeX installed).
PDF := _build/latex/lstms-measured.pdf
pdf: $(STAMP)
	@$(PY) -m tools.print_book --check
	$(VENV)/bin/jupyter-book build . --builder pdflatex -W --keep-going
	@test -s $(PDF) && echo "The PDF is at $(CURDIR)/$(PDF)"

# Copies of the chapters without their solutions, for graded work:
# _build/student-notebooks/ and _build/student-notebooks.zip (runnable on their own:
# lstm_core, binder/ and the saved results come along; tools/student_notebooks.py).
student-notebooks: $(STAMP)
	$(PY) -m tools.student_notebooks --out _build/student-notebooks $(NOTEBOOKS)

# The links to hand out (Binder, Colab, nbgitpuller with HUB=https://your-hub),
# from _config.yml's repository (or REPO_URL / REPO_BRANCH).
HUB ?=
links: $(STAMP)
	@$(REPO_ENV) $(PY) -m tools.repository $(HUB:%=--hub %)
