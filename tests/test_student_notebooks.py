"""`make student-notebooks`: no solution survives, everything else does, and a
copy still runs and reproduces its outputs (nbval, on one chapter: the one whose
code solution is removed from the middle of its exercises)."""
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from tools import student_notebooks as sn

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(str(p.relative_to(ROOT))
                   for p in (ROOT / "chapters").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
RUN_ONE = "chapters/foundations/lstm_cell.ipynb"
md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def _solution_cells(cells):
    """Indices of the solution cells, found independently of the tool: a cell
    opening a {solution} directive, and everything from {solution-start} to
    {solution-end}."""
    out, inside = set(), False
    for k, c in enumerate(cells):
        head = c.source.lstrip()[:30] if c.cell_type == "markdown" else ""
        if "{solution-start}" in head:
            inside = True
        if inside or "{solution}" in head:
            out.add(k)
        if "{solution-end}" in head:
            inside = False
    return out


def _text(cells):
    """Sources and output texts of cells, one string."""
    parts = []
    for c in cells:
        parts.append(c.source)
        for o in c.get("outputs", []):
            parts.append("".join(o.get("text", "")))
            parts += ["".join(v) for k, v in o.get("data", {}).items()
                      if k.startswith("text/")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("class") / "student-notebooks"
    counts = sn.write(out, NOTEBOOKS)
    return out, counts


def test_synthetic_notebook():
    nb = nbformat.v4.new_notebook(cells=[
        md("```{exercise} A\n:label: ex-a\nThink.\n```"),
        md("```{solution} ex-a\n:class: dropdown\nSECRET-TEXT\n```"),
        md("```{exercise} B\n:label: ex-b\nCode.\n```"),
        md("```{solution-start} ex-b\n:class: dropdown\n```"),
        code("secret = 42"), md("Because SECRET-REASON."),
        md("```{solution-end}\n```"),
        code("print('after')")])
    copy, n = sn.strip_solutions(nb)
    assert n == 2
    text = json.dumps(copy)
    assert "SECRET" not in text and "secret = 42" not in text
    answer = "**Your answer** to exercise `{}`:\n\n*(replace this line)*"
    assert [c.source for c in copy.cells] == [
        nb.cells[0].source, answer.format("ex-a"), nb.cells[2].source,
        answer.format("ex-b"), "# Your code for exercise ex-b\n", "print('after')"]
    assert [c.metadata.get("tags") for c in copy.cells] == [
        None, ["answer"], None, ["answer"], ["answer"], None]


@pytest.mark.parametrize("cells, error", [
    ([md("```{solution-start} x\n```"), code("a = 1")], "has no {solution-end}"),
    ([md("```{solution-end}\n```")], "without a start"),
    ([md("Text, then\n```{solution} x\nleak\n```")], "inside other text")])
def test_malformed_solutions_are_refused(cells, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        sn.strip_solutions(nbformat.v4.new_notebook(cells=cells), "nb")


def test_no_solution_survives_and_nothing_else_is_lost(copies):
    out, counts = copies
    for rel in NOTEBOOKS:
        original = nbformat.read(ROOT / rel, as_version=4)
        copy = nbformat.read(out / rel, as_version=4)
        nbformat.validate(copy)
        solutions = _solution_cells(original.cells)
        assert solutions, f"{rel} has no solutions to remove"
        text = _text(copy.cells)
        assert "{solution" not in text
        kept_text = _text(c for k, c in enumerate(original.cells)
                          if k not in solutions)
        own = [line for k in solutions for line in original.cells[k].source.split("\n")
               if len(line.strip()) > 20 and line not in kept_text]
        assert own, f"{rel}: no line of its solutions to look for"
        leaked = [line for line in own if line in text]
        assert not leaked, f"{rel}: solution lines survive: {leaked[:3]}"
        kept = [c for k, c in enumerate(original.cells) if k not in solutions]
        rest = [c for c in copy.cells if "answer" not in c.metadata.get("tags", [])]
        assert [(c.cell_type, c.source, c.get("outputs")) for c in rest] == \
            [(c.cell_type, c.source, c.get("outputs")) for c in kept]
        answers = [c for c in copy.cells if c.cell_type == "markdown"
                   and "answer" in c.metadata.get("tags", [])]
        assert len(answers) == counts[rel] == 4


def test_the_folder_runs_on_its_own(copies):
    out, _ = copies
    for name in ("lstm_core/__init__.py", "pyproject.toml", "binder/requirements.txt",
                 "benchmarks/results/cpu.json", "LICENSE", "LICENSE-CC-BY-4.0.txt",
                 "README.md"):
        assert (out / name).is_file(), name
    saved = [p.relative_to(ROOT) for p in (ROOT / "chapters").rglob("*")
             if p.is_file() and p.suffix != ".ipynb"]
    assert saved and all((out / p).is_file() for p in saved)
    with zipfile.ZipFile(f"{out}.zip") as z:
        names = set(z.namelist())
    assert f"student-notebooks/{RUN_ONE}" in names
    readme = (out / "README.md").read_text()
    assert "answer" in readme and "CC BY 4.0" in readme and RUN_ONE in readme


def test_a_copy_runs_and_reproduces_its_outputs(copies):
    out, _ = copies
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
         "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         "--nbval-cell-timeout=600", str(out / RUN_ONE)],
        cwd=out, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]


def test_out_folder_of_someone_else_is_left_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a folder this tool wrote"):
        sn.write(tmp_path / "mine", NOTEBOOKS[:1])
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
