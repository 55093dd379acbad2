"""Give every chapter notebook its Colab cell and its slide metadata.

Usage: python -m tools.notebook_setup [--check] [chapters/part/topic.ipynb ...]

- The notebook's kernelspec names the book's kernel, `lstm-book`, which
  `make venv` installs into .venv (Makefile, KERNEL_NAME): its own name, so that
  a `python3` kernel of another Python on the reader's machine cannot stand in
  for it. Front ends without it (Colab, a hub without the book's kernel) fall
  back to their Python 3 kernel.

- The first cell, tagged `remove-cell` (so the book and the slides leave it out)
  and `colab-setup`, runs only on Google Colab: it clones the book's repository,
  installs `lstm_core` from it and moves to the chapter's folder, where the saved
  results the chapter reads are. On Colab the notebook arrives alone, so the
  repository travels in the cell: at run time it takes LSTM_BOOK_REPO and
  LSTM_BOOK_REF from the environment where a reader set them (`%env`), else the
  URL and ref of _config.yml written in here (tools/repository.py); with neither
  it prints how to set one instead of failing. Off Colab it prints nothing, so a
  change of the URL changes no output: rerun this module, not the notebooks.
- Markdown cells are split where a slide must start, since a slide starts with a
  cell: before a heading and around each solution (a split changes nothing in
  the book).
- Every cell gets `slideshow.slide_type` for `make slides` unless it has one:
  a `#` or `##` heading starts a slide, a `###` heading or an exercise a
  sub-slide, hidden cells
  (`remove-cell`) and the solutions (which the student book hides too) are
  skipped, anything else continues the current slide.

Without --check the notebooks are rewritten in place; inserting the Colab cell
shifts the execution counts, so run `make execute` afterwards (a kernelspec or
slide_type change alone needs no re-run). With --check
nothing is written and the exit status is 1 if any notebook is out of date.
"""
import re
import sys
from pathlib import Path

import nbformat

from tools import repository

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-setup"
# The same name and display name as KERNEL_NAME and KERNEL_DISPLAY in the Makefile.
KERNELSPEC = {"display_name": "Python 3 (lstm book)", "language": "python",
              "name": "lstm-book"}

COLAB_CELL = '''\
# Runs only on Google Colab (this cell is hidden in the book): fetch the book's
# repository, install its package lstm_core and work from this chapter's
# folder, where the results the chapter reads are saved. Elsewhere it does
# nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    # The book's repository: LSTM_BOOK_REPO and LSTM_BOOK_REF if set (%env),
    # else the ones of its _config.yml (python -m tools.notebook_setup).
    REPO = os.environ.get("LSTM_BOOK_REPO", "{url}")
    REF = os.environ.get("LSTM_BOOK_REF", "{branch}")
    HERE = "/content/lstm-book"
    if not REPO:
        print("No repository to install lstm_core from: this copy of the "
              "book names none.\\nIn a new cell run\\n  %env LSTM_BOOK_REPO="
              "https://github.com/OWNER/REPO\\nthen this cell again (the cells "
              "below need lstm_core).")
    else:
        if not os.path.isdir(HERE):
            subprocess.run(["git", "clone", "--depth", "1", "--branch", REF,
                            REPO, HERE], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        "--no-deps", HERE], check=True)
        os.chdir(f"{{HERE}}/{folder}")'''


def colab_source(path):
    folder = Path(path).resolve().parent.relative_to(ROOT).as_posix()
    repo = repository.configured()
    return COLAB_CELL.format(url=repo.url if repo else "",
                             branch=repo.branch if repo else "main", folder=folder)


FENCE = re.compile(r"^(`{3,}|:{3,})\{?([\w-]*)")
SOLUTION = ("solution", "solution-start", "solution-end")


def split_points(text):
    """Line numbers before which a markdown cell is split: headings and the edges
    of solution directives, outside any fence (code, math or directive)."""
    lines, points, fence = text.split("\n"), set(), None
    for k, line in enumerate(lines):
        if fence is None:
            m = FENCE.match(line)
            if m:
                fence = (m.group(1), m.group(2))
                if fence[1] in SOLUTION:
                    points.add(k)
            elif re.match(r"#{1,3} ", line):
                points.add(k)
        elif line.strip() == fence[0]:
            if fence[1] in SOLUTION:
                points.add(k + 1)
            fence = None
    return sorted(p for p in points if 0 < p < len(lines))


def split_markdown(cells):
    """The cells with each markdown cell split at its split points."""
    out = []
    for cell in cells:
        points = split_points(cell.source) if cell.cell_type == "markdown" else []
        if not points:
            out.append(cell)
            continue
        lines = cell.source.split("\n")
        for a, b in zip([0, *points], [*points, len(lines)]):
            piece = "\n".join(lines[a:b]).strip("\n")
            if piece.strip():
                out.append(nbformat.v4.new_markdown_cell(
                    piece, metadata={k: v for k, v in cell.metadata.items()
                                     if k != "slideshow"}))
    return out


def slide_types(cells):
    """The default slide_type of each cell (see the module docstring)."""
    types, in_solution = [], False
    for cell in cells:
        text = cell.source.lstrip()
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown" and text.startswith("```{solution-start"):
            in_solution = True
        if in_solution or "remove-cell" in tags or text.startswith("```{solution"):
            types.append("skip")
        elif cell.cell_type == "markdown" and text.startswith(("# ", "## ")):
            types.append("slide")
        elif cell.cell_type == "markdown" and text.startswith(("### ", "```{exercise")):
            types.append("subslide")
        else:
            types.append("-")
        if cell.cell_type == "markdown" and text.startswith("```{solution-end}"):
            in_solution = False
    return types


def update(nb, path):
    """Bring nb up to date in place; return a list of what changed."""
    changes = []
    if nb.metadata.get("kernelspec") != KERNELSPEC:
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        changes.append("kernelspec set")
    source = colab_source(path)
    first = nb.cells[0] if nb.cells else None
    if first is None or TAG not in first.metadata.get("tags", []):
        nb.cells.insert(0, nbformat.v4.new_code_cell(
            source, metadata={"tags": ["remove-cell", TAG]}))
        changes.append("Colab cell added")
    elif first.source != source:
        first.source = source
        changes.append("Colab cell updated")
    cells = split_markdown(nb.cells)
    if len(cells) != len(nb.cells):
        changes.append(f"{len(cells) - len(nb.cells)} markdown splits")
        nb.cells = cells
    for cell, kind in zip(nb.cells, slide_types(nb.cells)):
        if "slide_type" not in cell.metadata.get("slideshow", {}):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            if not changes or not changes[-1].startswith("slide_type"):
                changes.append("slide_type set")
    return changes


def main(argv):
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"] or sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "chapters").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts)
    stale = []
    for path in paths:
        nb = nbformat.read(ROOT / path, as_version=4)
        changes = update(nb, ROOT / path)
        if changes:
            stale.append(path)
            print(f"{path}: {', '.join(changes)}")
            if not check:
                nbformat.write(nb, ROOT / path)
    if check and stale:
        print("out of date: run `python -m tools.notebook_setup`, then `make execute` "
              "if a Colab cell was added")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
