"""The published book: its version, its licences and its repository's buttons.

A Sphinx extension (local_extensions in _config.yml) that, at `config-inited`:

- sets Sphinx's `version` and `release` (the PDF's title page) and the Markdown
  substitution `{{ version }}` from `pyproject.toml`, the one place of the version
  number (CHANGELOG.md says what changed in each);
- puts the licences in the footer of every page: text and figures under CC BY 4.0,
  code under MIT (LICENSE-CC-BY-4.0.txt and LICENSE in the repository);
- points the launch buttons (Binder, Colab) and the repository button at the
  repository of `tools/repository.py` (`repository.url` and `.branch` in
  _config.yml, or `make book REPO_URL=... REPO_BRANCH=...`). While no URL is set it
  leaves them out, since a button to a placeholder fails for every reader, and says
  so in one line.
"""
import tomllib
from html import escape
from pathlib import Path

from sphinx.util import logging

import repository

ROOT = Path(__file__).resolve().parents[1]
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
MIT = "https://opensource.org/license/mit"
logger = logging.getLogger(__name__)


def version(root=ROOT):
    return tomllib.loads((Path(root) / "pyproject.toml").read_text())["project"][
        "version"]


def footer(release, repo):
    """The footer's HTML: version and licences, linked to the repository's files
    where there is one."""
    if repo is None:
        cc, mit, changes = CC_BY, MIT, ""
    else:
        blob = f"{repo.url}/blob/{repo.branch}"
        cc, mit = f"{blob}/LICENSE-CC-BY-4.0.txt", f"{blob}/LICENSE"
        changes = f' (<a href="{escape(blob)}/CHANGELOG.md">changes</a>)'
    return (f'<p>Version {escape(release)}{changes}. Text and figures: '
            f'<a href="{escape(cc)}">CC BY 4.0</a>; code: '
            f'<a href="{escape(mit)}">MIT</a>.</p>')


def _configure(app, config):
    release = version()
    config.version = config.release = release
    config.myst_substitutions = {**config.myst_substitutions, "version": release}
    repo = repository.for_build(repository.load_config(app.srcdir))
    options = config.html_theme_options
    options["extra_footer"] = footer(release, repo)
    if repo is None:
        options.pop("launch_buttons", None)
        options["use_repository_button"] = False
        options.pop("repository_url", None)
    else:
        options["repository_url"] = repo.url
        options["repository_branch"] = repo.branch
        options["use_repository_button"] = True
    app.release_repository = repo


def _report(app):
    """The one line of an HTML build about its buttons (and a second where the
    notebooks' Colab cells name another repository)."""
    if app.builder.format != "html":
        return
    repo = app.release_repository
    logger.info(repository.describe(repo))
    cells = repository.configured(repository.load_config(app.srcdir))
    if repo is not None and repo != cells:
        named = f"{cells.url} at {cells.branch}" if cells else "no repository"
        logger.info(f"The notebooks' Colab cells name {named} (_config.yml): set "
                    "repository.url and .branch there and run "
                    "`python -m tools.notebook_setup` to make them agree.")


def setup(app):
    app.connect("config-inited", _configure, priority=100)
    app.connect("builder-inited", _report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
