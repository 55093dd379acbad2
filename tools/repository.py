"""The book's repository: one URL and one ref, in _config.yml, and the links to it.

Usage: python -m tools.repository [--hub URL] [--notebook chapters/part/topic.ipynb]
       (`make links HUB=https://hub.example.edu`)

`repository.url` (a GitHub repository, https://github.com/OWNER/REPO) and
`repository.branch` (the branch or release tag readers get) in `_config.yml` are
the one place the book's address lives. Everything that sends a reader there
derives from them:

- the HTML book's launch buttons (Binder, Colab) and repository button, set at
  build time by the Sphinx extension `tools/release.py`, which leaves them out when
  no URL is set;
- the hidden Colab cell of every notebook, which `tools/notebook_setup.py` writes
  from them (it clones that repository at that ref);
- the links a teacher hands out: Binder, Colab and nbgitpuller, printed by this
  module (`make links`) rather than typed into the README.

For one build, BOOK_REPO_URL and BOOK_REPO_BRANCH (`make book REPO_URL=...
REPO_BRANCH=...`) override the launch buttons; the notebooks keep _config.yml's.
"""
import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)"
                    r"(?:\.git)?/?")
REF = re.compile(r"[A-Za-z0-9._/-]+")
URL_HINT = ("set repository.url in _config.yml, or build with "
            "`make book REPO_URL=https://github.com/OWNER/REPO`")


@dataclass(frozen=True)
class Repository:
    url: str            # https://github.com/OWNER/REPO, no trailing slash or .git
    branch: str         # a branch or a release tag
    owner: str
    name: str


def load_config(root=ROOT):
    return yaml.safe_load((Path(root) / "_config.yml").read_text())


def parse(url, branch, what="repository.url"):
    """The Repository at url and branch; a clear ValueError for anything else."""
    if not isinstance(url, str) or not GITHUB.fullmatch(url.strip()):
        raise ValueError(f"{what} must be a GitHub repository URL such as "
                         f"https://github.com/OWNER/REPO (Binder and Colab launch "
                         f"from GitHub), got {url!r}")
    if not isinstance(branch, str) or not REF.fullmatch(branch) or ".." in branch:
        raise ValueError(f"the repository's branch must be a branch or tag name such "
                         f"as main or v1.0.0, got {branch!r}")
    owner, name = GITHUB.fullmatch(url.strip()).groups()
    return Repository(f"https://github.com/{owner}/{name}", branch, owner, name)


def configured(config=None):
    """The Repository of _config.yml, or None while its URL is unset."""
    config = load_config() if config is None else config
    repo = config.get("repository") or {}
    url, branch = repo.get("url") or "", repo.get("branch") or "main"
    return parse(url, branch) if url.strip() else None


def for_build(config=None, env=None):
    """The Repository a build links to: BOOK_REPO_URL/BOOK_REPO_BRANCH over
    _config.yml. None while neither sets a URL."""
    env = os.environ if env is None else env
    config = load_config() if config is None else config
    base = configured(config)
    url = env.get("BOOK_REPO_URL", "").strip()
    branch = env.get("BOOK_REPO_BRANCH", "").strip()
    if url:
        return parse(url, branch or (base.branch if base else "main"), "REPO_URL")
    if base and branch:
        return parse(base.url, branch)
    return base


def describe(repo):
    """The one line a build prints about its launch buttons."""
    if repo is None:
        return (f"No repository URL ({URL_HINT}): the book is built without launch "
                f"buttons and without a repository button.")
    return f"Launch buttons and repository button: {repo.url} at {repo.branch}."


def binder_link(repo, notebook=None, binderhub="https://mybinder.org",
                interface="lab"):
    link = f"{binderhub.rstrip('/')}/v2/gh/{repo.owner}/{repo.name}/{repo.branch}"
    if notebook:
        link += f"?urlpath={'lab/tree' if interface == 'lab' else 'tree'}/{notebook}"
    return link


def colab_link(repo, notebook, colab="https://colab.research.google.com"):
    return f"{colab.rstrip('/')}/github/{repo.owner}/{repo.name}/blob/" \
           f"{repo.branch}/{notebook}"


def nbgitpuller_link(repo, hub, notebook, interface="lab"):
    """A JupyterHub link that clones (first click) or pulls (later clicks) the
    repository into the student's home and opens the notebook."""
    prefix = "lab/tree" if interface == "lab" else "tree"
    urlpath = f"{prefix}/{repo.name}/{notebook}"
    return (f"{hub.rstrip('/')}/hub/user-redirect/git-pull?repo={quote(repo.url, '')}"
            f"&branch={quote(repo.branch, '')}&urlpath={quote(urlpath, '')}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hub", help="a JupyterHub's URL, for an nbgitpuller link")
    parser.add_argument("--notebook", default="chapters/sine/sine_lookback.ipynb",
                        help="the notebook the links open")
    parser.add_argument("--describe", action="store_true",
                        help="only the one line about the launch buttons of a build")
    args = parser.parse_args(argv)
    try:
        repo = for_build()
    except ValueError as err:
        print(f"repository: {err}", file=sys.stderr)
        return 2
    if args.describe:
        print(describe(repo))
        return 0
    if repo is None:
        print(f"No repository URL: {URL_HINT}.", file=sys.stderr)
        return 1
    launch = load_config().get("launch_buttons") or {}
    binderhub = launch.get("binderhub_url") or "https://mybinder.org"
    colab = launch.get("colab_url") or "https://colab.research.google.com"
    # the interface of the book's launch buttons (launch_buttons in _config.yml)
    ui = "lab" if launch.get("notebook_interface") == "jupyterlab" else "classic"
    nb = args.notebook
    print(f"Repository:  {repo.url} at {repo.branch}")
    print(f"Binder:      {binder_link(repo, nb, binderhub, ui)}")
    print(f"Colab:       {colab_link(repo, nb, colab)}")
    if args.hub:
        print(f"nbgitpuller: {nbgitpuller_link(repo, args.hub, nb)}")
    else:
        print("nbgitpuller: give --hub https://YOUR-HUB (make links HUB=...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
