"""The built book against WCAG 2.1 A and AA, by axe-core in a real browser.

axe-core (the accessibility engine of Deque, MPL-2.0; pinned version and checksum
in tools/offline_assets.py, fetched from npm at test time into `_build/axe`, like
the book's MathJax) runs on every page of `_toc.yml`, in the light and in the dark
colour mode, with the rule sets wcag2a, wcag2aa, wcag21a and wcag21aa (colour
contrast included), after MathJax has typeset and the saved widgets have rendered.

- A violation in the book's own content (the article: figures, players, widgets,
  tables, math, exercises) fails.
- A violation in the theme's frame (header, sidebars, footer) fails unless it is
  listed in THEME_KNOWN with the upstream issue that tracks it (today none:
  tools/a11y.py fixes what axe found there).
- Every image in the article has alt text that says something: not empty, not a
  file name or path (MyST-NB's default for a figure without alt text is its path).

The report, each rule and element per page and mode, goes to
`_build/screenshots/axe_report.json`. Without Chromium or npm it skips, saying
what to install; with CI=true it fails instead.
"""
import collections
import json
import os
import re
import sys
from pathlib import Path

import pytest
from browser_helpers import chromium, offline_tab, serve, toc_pages, unavailable

ROOT = Path(os.environ.get("BOOK_ROOT", Path(__file__).resolve().parents[1]))
HTML = ROOT / "_build" / "html"
REPORT = ROOT / "_build" / "screenshots" / "axe_report.json"
PAGES, _ = toc_pages(ROOT)
MODES = ("light", "dark")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
TIMEOUT_MS = 30_000
# Theme violations that cannot be fixed here: {rule id: upstream issue URL}.
THEME_KNOWN = {}
# alt text that names a file instead of describing what the picture shows
PATH_ALT = re.compile(r"\S*/\S*|\S+\.(png|svg|gif|jpe?g|webp)", re.IGNORECASE)

# In the page, once it has loaded: wait for math and widgets, then run axe and
# return each violation's nodes, each marked as the book's content or the theme's.
_AXE = """async (tags) => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;
  const views = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]').length;
  for (let t = 0; views && t < 100; t++) {
    if (document.querySelectorAll('.jupyter-widgets').length >= views) break;
    await sleep(100);
  }
  await sleep(300);                         // the widget-label script's observer
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  const where = sel => {
    const el = document.querySelector(sel);
    return el && el.closest('article.bd-article') ? 'content' : 'theme';
  };
  return {
    mode: document.documentElement.dataset.theme,
    violations: result.violations.map(v => ({
      rule: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                html: n.html.slice(0, 200),
                                where: where(n.target[0])}))})),
    alts: Array.from(document.querySelectorAll('article.bd-article img'))
      .map(img => img.getAttribute('alt')),
  };
}"""


@pytest.fixture(scope="module")
def axe_js():
    sys.path.insert(0, str(ROOT / "tools"))
    import offline_assets
    try:
        folder = offline_assets.fetch({"axe-core": offline_assets.AXE_CORE},
                                      ROOT / "_build" / "axe")
    except Exception as err:          # no npm, no network: say so
        unavailable(f"axe-core could not be fetched from npm ({err})",
                    "the accessibility test")
    return (folder / "axe-core" / "axe.min.js").read_text()


@pytest.fixture(scope="module")
def audit(axe_js):
    """audit(page, mode) -> what axe found; each page and mode is audited once."""
    if not (HTML / "index.html").is_file():
        pytest.fail("no built book: run `make book` first (make test does)")
    seen = {}
    with chromium("the accessibility test") as browser, serve(HTML) as base:
        def _audit(page, mode):
            if (page, mode) not in seen:
                blocked, errors = [], []
                with offline_tab(browser, blocked, errors) as tab:
                    # pydata-sphinx-theme reads the reader's choice from here
                    tab.add_init_script(f"localStorage.setItem('mode', '{mode}');"
                                        f"localStorage.setItem('theme', '{mode}');")
                    tab.goto(f"{base}{page}.html", wait_until="load",
                             timeout=TIMEOUT_MS)
                    tab.add_script_tag(content=axe_js)
                    seen[page, mode] = tab.evaluate(_AXE, TAGS)
            return seen[page, mode]

        yield _audit
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(
        {"axe-core": "4.14.1", "tags": TAGS,
         "per_rule": dict(collections.Counter(
             v["rule"] for r in seen.values() for v in r["violations"]
             for _ in v["nodes"])),
         "pages": {f"{page} ({mode})": r["violations"]
                   for (page, mode), r in seen.items()}}, indent=1))


def _listed(violations, where):
    return [f"{v['rule']} ({v['help']}): {n['target']}: {n['html'][:120]}"
            for v in violations for n in v["nodes"] if n["where"] == where]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("page", PAGES)
def test_no_violations_in_the_books_content(audit, page, mode):
    found = audit(page, mode)
    assert found["mode"] == mode, f"{page}: asked for {mode}, got {found['mode']}"
    listed = _listed(found["violations"], "content")
    assert not listed, f"{page} ({mode}): {len(listed)} WCAG 2.1 AA violations " \
        "in the book's content:\n" + "\n".join(listed)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("page", PAGES)
def test_theme_violations_are_known_upstream(audit, page, mode):
    unknown = [v for v in audit(page, mode)["violations"]
               if v["rule"] not in THEME_KNOWN]
    listed = _listed(unknown, "theme")
    assert not listed, f"{page} ({mode}): violations in the theme's frame, not " \
        "fixed in tools/a11y.py nor listed in THEME_KNOWN:\n" + "\n".join(listed)


@pytest.mark.parametrize("page", PAGES)
def test_every_image_says_what_it_shows(audit, page):
    alts = audit(page, "light")["alts"]
    bad = [a for a in alts if not a or not a.strip() or PATH_ALT.fullmatch(a.strip())]
    assert not bad, f"{page}: {len(bad)} of {len(alts)} images have no alt text " \
        "or a file name for one (set it in the notebook: cell metadata " \
        f"mystnb.image.alt, or viz.player(alt=...)): {bad[:3]}"


@pytest.mark.parametrize("alt, ok", [
    ("../../_images/a32e.png", False), ("figure.png", False), ("", False),
    ("The gradient norm falls by ten decades over 100 steps", True),
    ("Loss against epoch: 1/2 of the runs converge", True),
])
def test_a_path_is_not_alt_text(alt, ok):
    """The check above tells a description from a file name."""
    assert (bool(alt.strip()) and not PATH_ALT.fullmatch(alt)) == ok
