"""Solution-free copies of the chapters, for graded work (`make student-notebooks`).

Usage: python -m tools.student_notebooks [--out DIR] [chapters/part/topic.ipynb ...]

Each chapter notebook is copied without the solutions of its exercises: a plain
`{solution}` cell goes, and so does everything from a `{solution-start}` cell to
its `{solution-end}` cell, code cells included (tools/notebook_setup.py gives each
solution edge a cell of its own). In place of each solution comes an answer cell
tagged `answer`, naming the exercise: markdown for the reasoning and, where the
solution ran code, a code cell too. Every other cell is kept as it is, outputs
included, so a copy reads like the chapter and runs top to bottom.

DIR (default _build/student-notebooks) runs on its own, to zip or to push as a
class's own repository (Binder, nbgitpuller): beside chapters/ it gets lstm_core/,
pyproject.toml, binder/, the saved results the chapters read, the licences and a
README for students. DIR.zip holds the same.
"""
import argparse
import re
import shutil
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MARKER = ".student-notebooks"          # DIR is ours to empty only if it has this
DIRECTIVE = re.compile(r"\s*(`{3,}|:{3,})\{(solution|solution-start|solution-end)\}"
                       r"[ \t]*(\S*)")
ANSWER_TAG = "answer"
# What comes along, besides the notebooks (relative to the repository).
SUPPORT = ("lstm_core", "pyproject.toml", "binder", "benchmarks/results",
           "LICENSE", "LICENSE-CC-BY-4.0.txt")


def _answer_cells(label, with_code):
    md = nbformat.v4.new_markdown_cell(
        f"**Your answer** to exercise `{label}`:\n\n*(replace this line)*",
        metadata={"tags": [ANSWER_TAG]})
    cells = [md]
    if with_code:
        cells.append(nbformat.v4.new_code_cell(
            f"# Your code for exercise {label}\n", metadata={"tags": [ANSWER_TAG]}))
    return cells


def _directive(cell):
    """(kind, label) of a cell that opens with a solution directive, else None."""
    m = DIRECTIVE.match(cell.source) if cell.cell_type == "markdown" else None
    return (m.group(2), m.group(3)) if m else None


def strip_solutions(nb, name="notebook"):
    """A copy of nb without its solutions, an answer cell in place of each;
    (copy, number of solutions). A ValueError names a malformed solution."""
    cells, k, found = [], 0, 0
    while k < len(nb.cells):
        cell = nb.cells[k]
        directive = _directive(cell)
        if directive is None:
            if "{solution" in cell.source:
                raise ValueError(f"{name}, cell {k}: a solution directive inside "
                                 "other text; run `python -m tools.notebook_setup`")
            cells.append(cell)
            k += 1
            continue
        kind, label = directive
        if kind == "solution-end":
            raise ValueError(f"{name}, cell {k}: {{solution-end}} without a start")
        end = k
        if kind == "solution-start":
            end = next((j for j in range(k + 1, len(nb.cells))
                        if (_directive(nb.cells[j]) or ("",))[0] == "solution-end"),
                       None)
            if end is None:
                raise ValueError(f"{name}, cell {k}: {{solution-start}} {label} "
                                 "has no {solution-end}")
        with_code = any(c.cell_type == "code" for c in nb.cells[k:end + 1])
        cells += _answer_cells(label or "above", with_code)
        found += 1
        k = end + 1
    copy = nbformat.from_dict(nb)
    copy.cells = cells
    leftover = [i for i, c in enumerate(cells) if "{solution" in c.source]
    assert not leftover, f"{name}: solution text left in cells {leftover}"
    return copy, found


def _readme(notebooks, version):
    toc = "\n".join(f"- `{p}`" for p in notebooks)
    return f"""# LSTMs, measured: the notebooks for your exercises

Version {version} of the chapters of *LSTMs, measured* (The LSTM book team),
without the solutions of the exercises. After each exercise comes an answer
cell (tagged `answer`): write your answer there. Everything else is as in the
book, outputs included; run a notebook top to bottom to reproduce them.

## Chapters

{toc}

## Running them

With Python 3.11, from this folder:

```bash
python3 -m venv .venv
.venv/bin/pip install -r binder/requirements.txt jupyterlab
.venv/bin/pip install --no-deps -e .
.venv/bin/jupyter lab
```

(On Windows: `.venv\\Scripts\\pip` and `.venv\\Scripts\\jupyter`.) The
chapters import the package `lstm_core` from this folder and read the saved
results beside them. `binder/` makes the folder a Binder and JupyterHub
(repo2docker) source as it is.

## Licence

The text and figures are under CC BY 4.0 (`LICENSE-CC-BY-4.0.txt`), the code
under MIT (`LICENSE`). Keep both files, and the credit to the book, when you
share these notebooks or work based on them.
"""


def _copy_support(out):
    for name in SUPPORT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, out / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.egg-info"))
        elif src.exists():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, out / name)
    for src in (ROOT / "chapters").rglob("*"):
        if (src.is_file() and src.suffix != ".ipynb"
                and ".ipynb_checkpoints" not in src.parts):
            dest = out / src.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)


def _toc_order(paths):
    toc = (ROOT / "_toc.yml").read_text()
    order = {f"{m}.ipynb": k for k, m in
             enumerate(re.findall(r"file:\s*(\S+)", toc))}
    return sorted(paths, key=lambda p: (order.get(p, len(order)), p))


def write(out, notebooks):
    """Write the copies and the rest of the folder to out, and out.zip; return
    {notebook: number of solutions removed}."""
    out = Path(out).resolve()
    if out.exists():
        if not (out / MARKER).exists():
            raise ValueError(f"--out {out} exists and is not a folder this tool "
                             f"wrote (no {MARKER} in it): choose another")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by tools/student_notebooks.py\n")
    _copy_support(out)
    counts = {}
    for rel in notebooks:
        nb = nbformat.read(ROOT / rel, as_version=4)
        copy, counts[rel] = strip_solutions(nb, rel)
        nbformat.validate(copy)
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(copy, dest)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "version"]
    (out / "README.md").write_text(_readme(list(counts), version))
    shutil.make_archive(str(out), "zip", root_dir=out.parent, base_dir=out.name)
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "_build" / "student-notebooks"))
    parser.add_argument("notebooks", nargs="*")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [
        str(p.relative_to(ROOT)) for p in (ROOT / "chapters").rglob("*.ipynb")
        if ".ipynb_checkpoints" not in p.parts]
    notebooks = _toc_order([str(Path(p).resolve().relative_to(ROOT))
                            for p in notebooks])
    try:
        counts = write(args.out, notebooks)
    except (ValueError, OSError, nbformat.ValidationError) as err:
        print(f"student_notebooks: {err}", file=sys.stderr)
        return 1
    for rel, n in counts.items():
        print(f"{rel}: {n} solutions removed")
    out = Path(args.out)
    print(f"Solution-free notebooks in {out}/ and {out}.zip (README.md inside)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
