"""Handing the book out: licences, version, Python versions, Binder, extras, the
publishing workflow, the one repository URL and the Colab cell that reads it.

The HTML builds with and without a URL are in tests/test_launch_buttons.py, the
PDF in tests/test_pdf.py, the solution-free notebooks in
tests/test_student_notebooks.py.
"""
import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
import yaml

from tools import notebook_setup, repository

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import print_book  # noqa: E402  (Sphinx local extensions, not a package)
import release  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path):
    """{normalised name: version} of a requirements file's `name==version` lines."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


# ---- licences and version ----

def test_licence_files_and_readme():
    mit = (ROOT / "LICENSE").read_text()
    cc = (ROOT / "LICENSE-CC-BY-4.0.txt").read_text()
    assert mit.startswith("MIT License") and "Permission is hereby granted" in mit
    assert "Attribution 4.0 International Public License" in cc
    assert "Section 3 -- License Conditions." in cc     # the whole legal code
    readme = (ROOT / "README.md").read_text()
    assert "CC BY 4.0" in readme and "MIT" in readme and "LICENSE" in readme


def test_footer_names_both_licences_and_the_version():
    repo = repository.parse("https://github.com/someone/lstm-book", "v1.2.0")
    for r in (None, repo):
        html = release.footer("1.2.0", r)
        assert "Version 1.2.0" in html and "CC BY 4.0" in html and "MIT" in html
    linked = release.footer("1.2.0", repo)
    assert "https://github.com/someone/lstm-book/blob/v1.2.0/LICENSE" in linked
    assert release.version() == PYPROJECT["project"]["version"]


def test_version_and_changelog_agree():
    version = PYPROJECT["project"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\S+)", changelog, re.M)
    # changes not yet released are collected under "Unreleased", at the top
    assert "Unreleased" not in headings[1:], "'## Unreleased' must be the first entry"
    released = [h for h in headings if h != "Unreleased"]
    assert released and released[0] == version, \
        f"CHANGELOG.md's latest release is {released[:1]}, pyproject.toml says {version}"
    # written for teachers: every chapter is named, in the entry that added it
    for nb in NOTEBOOKS:
        assert f"`{nb.stem}`" in changelog, f"CHANGELOG.md never names {nb.stem}"


def test_python_version_is_stated_once():
    # pyproject, Binder, the workflow and the README all name the tested version
    low = re.fullmatch(r">=(3\.\d+)", PYPROJECT["project"]["requires-python"])
    assert low, PYPROJECT["project"]["requires-python"]
    tested = low.group(1)
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == f"python-{tested}"
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["build"]
    assert job["container"].startswith(f"python:{tested}-")
    readme = (ROOT / "README.md").read_text()
    stated = set(re.findall(r"Python (3\.\d+)", readme))
    assert stated == {tested}, f"README names Python {sorted(stated)}, tests {tested}"


# ---- what gets installed ----

SERVER_PACKAGES = {"tornado", "jupyter-client", "pyzmq", "jupyter-server",
                   "jupyterlab", "notebook", "ipykernel", "traitlets", "jupyter-core"}
# imported by the notebooks but brought by any Jupyter image (ipykernel needs it)
FROM_THE_IMAGE = {"ipython"}


def _imports(source):
    tree = ast.parse("\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!"))))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split(".")[0]


def _third_party_imports():
    """{distribution: where} of what the notebooks and lstm_core import."""
    sources = [(nb.name, c["source"]) for nb in NOTEBOOKS
               for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    sources += [(p.name, p.read_text()) for p in (ROOT / "lstm_core").glob("*.py")]
    dists = importlib.metadata.packages_distributions()
    found = {}
    for where, src in sources:
        src = "".join(src) if isinstance(src, list) else src
        for module in _imports(src):
            if module in sys.stdlib_module_names or module == "lstm_core":
                continue
            for dist in dists.get(module, [module]):
                found.setdefault(_norm(dist), where)
    return found


def test_binder_installs_what_the_notebooks_import_and_no_server_package():
    binder = _pins(ROOT / "binder" / "requirements.txt")
    pins = _pins(ROOT / "requirements.txt")
    needed = _third_party_imports()
    missing = {d: w for d, w in needed.items()
               if d not in binder and d not in FROM_THE_IMAGE}
    assert not missing, f"binder/requirements.txt lacks {missing}"
    assert not SERVER_PACKAGES & set(binder), "binder pins the server's packages"
    extra = set(binder) - set(needed) - {"ninja"}   # ninja: the C++ kernel's build
    assert not extra, f"binder/requirements.txt installs more than needed: {extra}"
    for name, version in binder.items():
        assert version.split("+")[0] == pins[name].split("+")[0], \
            f"{name}: binder pins {version}, requirements.txt {pins[name]}"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in \
        (ROOT / "binder" / "requirements.txt").read_text()
    assert binder["torch"].endswith("+cpu")
    assert "g++" in (ROOT / "binder" / "apt.txt").read_text().split()


def test_the_binder_check_can_fail():
    assert "torch" in _third_party_imports()        # lstm_core.torch_lstm, notebooks
    assert list(_imports("import numpy as np\nfrom myst_nb import glue\n%time x")) \
        == ["numpy", "myst_nb"]


def test_every_extra_is_pinned():
    pins = _pins(ROOT / "requirements.txt")
    extras = PYPROJECT["project"]["optional-dependencies"]
    for extra, names in extras.items():
        for name in names:
            assert _norm(name) in pins, f"[{extra}] {name} is not in requirements.txt"
    assert {"book", "test", "notebooks"} <= set(extras)


def test_torch_index_is_passed_to_pip_only_when_set():
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not found")
    dry = [make, "-n", "-B", "-C", str(ROOT), ".venv/.installed"]
    plain = subprocess.run(dry, capture_output=True, text=True).stdout
    cpu = subprocess.run(dry + ["TORCH_INDEX=https://download.pytorch.org/whl/cpu"],
                         capture_output=True, text=True).stdout
    assert "-r requirements.txt" in plain and "--extra-index-url" not in plain
    assert ("-r requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu"
            in cpu)


# ---- the publishing workflow ----

def _actionlint():
    exe = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent))
    if exe is None:
        msg = "actionlint not found: `make venv` installs it (requirements.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (CI=true: the workflow check must run)")
        pytest.skip(msg)
    return exe


def test_workflow_passes_actionlint():
    run = subprocess.run([_actionlint(), "-shellcheck=", "-pyflakes=", str(WORKFLOW)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: [", 1)
    (tmp_path / "book.yml").write_text(broken)
    run = subprocess.run([_actionlint(), str(tmp_path / "book.yml")],
                         capture_output=True, text=True)
    assert run.returncode != 0


def test_workflow_tests_builds_and_publishes_the_html():
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = flow["jobs"]["build"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "bash .ci/run" in runs and "make student-notebooks" in runs
    upload = [s for s in steps if s.get("uses", "").startswith(
        "actions/upload-pages-artifact@")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    deploy = flow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages@")
               for s in deploy["steps"])


def test_ci_installs_the_pdf_tools():
    ci = (ROOT / ".ci" / "run").read_text()
    for package in (*print_book.TEX_PACKAGES, "poppler-utils"):
        assert package in ci, f".ci/run does not install {package}"


# ---- one repository URL ----

def test_repository_urls_are_checked():
    repo = repository.parse("https://github.com/Some-One/lstm.book.git/", "v1.0.0")
    assert (repo.url, repo.owner, repo.name) == (
        "https://github.com/Some-One/lstm.book", "Some-One", "lstm.book")
    for bad in ("https://gitlab.com/a/b", "github.com/a/b", "", None,
                "https://github.com/a"):
        with pytest.raises(ValueError, match="GitHub repository URL"):
            repository.parse(bad, "main")
    with pytest.raises(ValueError, match="branch or tag"):
        repository.parse("https://github.com/a/b", "main; rm -rf /")


def test_build_override_and_unset_url():
    config = {"repository": {"url": "", "branch": "main"}}
    assert repository.for_build(config, env={}) is None
    assert "without launch buttons" in repository.describe(None)
    env = {"BOOK_REPO_URL": "https://github.com/a/b", "BOOK_REPO_BRANCH": "v2.0.0"}
    assert repository.for_build(config, env=env) == repository.parse(
        "https://github.com/a/b", "v2.0.0")
    set_ = {"repository": {"url": "https://github.com/c/d", "branch": "v1.0.0"}}
    assert repository.for_build(set_, env={}).url == "https://github.com/c/d"
    assert repository.for_build(set_, env={"BOOK_REPO_BRANCH": "main"}).branch == "main"
    with pytest.raises(ValueError, match="REPO_URL"):
        repository.for_build(config, env={"BOOK_REPO_URL": "https://example.org/x"})


def test_links_derive_from_the_repository():
    repo = repository.parse("https://github.com/lstm-book/lstm-book", "v1.0.0")
    nb = "chapters/sine/sine_lookback.ipynb"
    assert repository.binder_link(repo, nb) == (
        "https://mybinder.org/v2/gh/lstm-book/lstm-book/v1.0.0"
        "?urlpath=lab/tree/chapters/sine/sine_lookback.ipynb")
    assert repository.colab_link(repo, nb) == (
        "https://colab.research.google.com/github/lstm-book/lstm-book/blob/v1.0.0/"
        "chapters/sine/sine_lookback.ipynb")
    assert repository.nbgitpuller_link(repo, "https://hub.example.edu/", nb) == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2F"
        "github.com%2Flstm-book%2Flstm-book&branch=v1.0.0&urlpath=lab%2Ftree%2F"
        "lstm-book%2Fchapters%2Fsine%2Fsine_lookback.ipynb")


def test_no_placeholder_url_is_left():
    # the former placeholder repository, which does not exist, is gone everywhere
    for path in [ROOT / "README.md", ROOT / "_config.yml", ROOT / "intro.md",
                 *NOTEBOOKS]:
        assert "lstm-book/lstm-book" not in path.read_text(), path


# ---- the Colab cell reads the URL when it runs ----

def _run_colab_cell(source, monkeypatch, env, on_colab=True):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setattr(os, "chdir", lambda path: calls.append(["chdir", path]))
    monkeypatch.setattr(os.path, "isdir", lambda path: False)
    for key in ("LSTM_BOOK_REPO", "LSTM_BOOK_REF"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "colab-cell", "exec"), {})
    return calls


def _cell(url, branch="main"):
    return notebook_setup.COLAB_CELL.format(url=url, branch=branch,
                                            folder="chapters/sine")


def test_colab_cell_without_a_url_says_how_to_set_one(monkeypatch, capsys):
    calls = _run_colab_cell(_cell(""), monkeypatch, {})
    assert calls == []
    out = capsys.readouterr().out
    assert "%env LSTM_BOOK_REPO=https://github.com/OWNER/REPO" in out


def test_colab_cell_clones_the_url_at_its_ref(monkeypatch, capsys):
    calls = _run_colab_cell(_cell("https://github.com/a/b", "v1.0.0"), monkeypatch, {})
    assert calls[0] == ["git", "clone", "--depth", "1", "--branch", "v1.0.0",
                        "https://github.com/a/b", "/content/lstm-book"]
    assert calls[1][-1] == "/content/lstm-book"            # pip install
    assert calls[2] == ["chdir", "/content/lstm-book/chapters/sine"]
    # a reader's %env wins over the URL written into the cell
    calls = _run_colab_cell(_cell("https://github.com/a/b"), monkeypatch,
                            {"LSTM_BOOK_REPO": "https://github.com/c/d",
                             "LSTM_BOOK_REF": "main"})
    assert calls[0][-2:] == ["https://github.com/c/d", "/content/lstm-book"]
    assert capsys.readouterr().out == ""


def test_colab_cell_does_nothing_elsewhere(monkeypatch, capsys):
    assert _run_colab_cell(_cell(""), monkeypatch, {}, on_colab=False) == []
    assert capsys.readouterr().out == ""


def test_notebooks_carry_the_configured_url():
    repo = repository.configured()
    for nb in NOTEBOOKS:
        first = json.loads(nb.read_text())["cells"][0]
        source = "".join(first["source"])
        assert f'"LSTM_BOOK_REPO", "{repo.url if repo else ""}"' in source, nb
        assert first["outputs"] == [], f"{nb}: the Colab cell printed off Colab"
