"""Launch buttons only where the book has a repository (tools/release.py).

A one-notebook book is built twice with the repository's own _config.yml and the
extension under test: as `make book` builds it while `repository.url` is unset, and
as `make book REPO_URL=... REPO_BRANCH=...` does (BOOK_REPO_URL, BOOK_REPO_BRANCH).
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
URL, REF = "https://github.com/someone/lstm-book", "v1.0.0"


def _build(book, env_extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("BOOK_REPO_URL", "BOOK_REPO_BRANCH")} | env_extra
    out = book / ("with" if env_extra else "without")
    jb = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run([str(jb), "build", str(book), "--path-output", str(out),
                          "-W", "--keep-going"], env=env, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    return run.stdout, (out / "_build" / "html" / "chapter.html").read_text()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    book = tmp_path_factory.mktemp("book")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"]["url"] = ""
    config["sphinx"]["local_extensions"] = {"release": str(ROOT / "tools")}
    config["bibtex_bibfiles"] = [str(ROOT / "references.bib")]
    config["sphinx"]["config"].pop("latex_additional_files", None)
    (book / "_config.yml").write_text(yaml.safe_dump(config))
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\n"
                                   "chapters:\n- file: chapter\n")
    (book / "intro.md").write_text("# Intro\n\nVersion {{ version }}.\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Chapter")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, book / "chapter.ipynb")
    return {"without": _build(book, {}),
            "with": _build(book, {"BOOK_REPO_URL": URL, "BOOK_REPO_BRANCH": REF})}


def test_no_url_no_buttons_and_one_line_says_so(builds):
    log, html = builds["without"]
    assert "mybinder.org" not in html and "colab.research.google.com" not in html
    assert "github.com" not in html                 # no repository button either
    lines = [line for line in log.splitlines() if "No repository URL" in line]
    assert len(lines) == 1 and "without launch buttons" in lines[0]


def test_url_gives_binder_colab_and_repository_buttons(builds):
    log, html = builds["with"]
    assert (f"https://mybinder.org/v2/gh/someone/lstm-book/{REF}"
            "?urlpath=tree/chapter.ipynb") in html
    assert (f"https://colab.research.google.com/github/someone/lstm-book/blob/{REF}/"
            "chapter.ipynb") in html
    assert f'href="{URL}"' in html
    assert f"Launch buttons and repository button: {URL} at {REF}." in log


def test_footer_and_version(builds):
    version = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())[
        "project"]["version"]
    for _, html in builds.values():
        assert f"Version {version}" in html and "CC BY 4.0" in html
    _, with_url = builds["with"]
    assert f"{URL}/blob/{REF}/LICENSE-CC-BY-4.0.txt" in with_url
