"""The student build hides every solution, the teacher build shows them.

A two-page book is built twice in a temporary folder with the repository's own
`_config.yml` and `tools/solutions.py`: as `make book` does (sphinx-exercise's
`hide_solutions: true`) and as `make book-teacher` does (BOOK_TEACHER=1). Its notebook
has a plain `{solution}` and a gated `{solution-start}` / `{solution-end}` pair around
a code cell, the form sphinx-exercise 1.2.1 cannot hide by itself.
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SECRET = "GATED-SOLUTION-OUTPUT"


def _notebook():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cell = code(f"print('{SECRET}')", execution_count=1,
                outputs=[nbformat.v4.new_output("stream", name="stdout",
                                                text=f"{SECRET}\n")])
    nb = nbformat.v4.new_notebook(cells=[
        md("# Toy chapter\n\n```{exercise} Add\n:label: toy-ex-1\nCompute 1 + 1.\n```"),
        md("```{solution} toy-ex-1\n:class: dropdown\nPLAIN-SOLUTION-TEXT\n```"),
        md("```{exercise} Print\n:label: toy-ex-2\nPrint a word.\n```"),
        md("```{solution-start} toy-ex-2\n```"),
        cell,
        md("```{solution-end}\n```"),
        md("After the exercises."),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _build(book, teacher):
    env = {k: v for k, v in os.environ.items() if k != "BOOK_TEACHER"}
    if teacher:
        env["BOOK_TEACHER"] = "1"
    out = book / ("teacher" if teacher else "student")
    jb = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run([str(jb), "build", str(book), "--path-output", str(out),
                          "-W", "--keep-going"], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    return (out / "_build" / "html" / "toy.html").read_text()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """{"student": html, "teacher": html} of the toy chapter."""
    book = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    # The extension under test, by absolute path (no assets to fetch), and
    # release, without which launch buttons with no repository URL fail the build.
    config["sphinx"]["local_extensions"] = {"solutions": str(ROOT / "tools"),
                                            "release": str(ROOT / "tools")}
    config["bibtex_bibfiles"] = [str(ROOT / "references.bib")]
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n"
                                   "chapters:\n- file: toy\n")
    (book / "intro.md").write_text("# Intro\n")
    nbformat.write(_notebook(), book / "toy.ipynb")
    return {"student": _build(book, False), "teacher": _build(book, True)}


def test_config_hides_solutions_by_default():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["config"]["hide_solutions"] is True
    assert "solutions" in config["sphinx"]["local_extensions"]


def test_student_build_has_no_solution(builds):
    html = builds["student"]
    assert "Compute 1 + 1." in html and "After the exercises." in html
    assert "PLAIN-SOLUTION-TEXT" not in html
    assert SECRET not in html, "the gated solution's code cell is in the student build"
    assert 'class="solution' not in html


def test_teacher_build_has_every_solution(builds):
    html = builds["teacher"]
    assert "PLAIN-SOLUTION-TEXT" in html
    assert SECRET in html
    assert html.count('class="solution') == 2
