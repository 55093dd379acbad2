"""The built HTML book in a real browser, with every request off this machine blocked.

Serves `_build/html` on 127.0.0.1 and opens every page of `_toc.yml` in headless
Chromium (Debian's `chromium`, driven by Playwright's Python API; Playwright's own
browser download is never used). Any request to another host is aborted and
recorded, so a page that passes reads fully offline: MathJax, RequireJS and the
widget manager come from `_static/offline` (tools/offline_assets.py).

Per page: no request left the machine, no JavaScript error, every image loaded,
all math typeset, the sidebar links to every chapter, every internal link and
anchor resolves, saved widgets render, and no solution shows (student build).
On each page whose notebook stores a matplotlib `to_jshtml` player, the player is
there and moves with no kernel: its buttons and slider change the frame shown.
A screenshot of the first page of each chapter goes to `_build/screenshots/`.

A summary per page (images, math, widgets, links...) goes to
`_build/screenshots/browser_report.json`.

Builds the book first if `_build/html/index.html` is missing (`make test` builds it
with `make book`). Without Chromium it skips, saying how to install it; with
CI=true it fails instead. BOOK_ROOT=<folder> checks another built copy of the book.
"""
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from browser_helpers import chromium
from browser_helpers import offline_tab as _offline_tab
from browser_helpers import serve, toc_pages

ROOT = Path(os.environ.get("BOOK_ROOT", Path(__file__).resolve().parents[1]))
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
TIMEOUT_MS = 30_000


PAGES, CHAPTERS = toc_pages(ROOT)
# "The first page of each chapter": the landing page and each chapter's own page.
SCREENSHOT_PAGES = [PAGES[0], *CHAPTERS]
# The slider of matplotlib's `to_jshtml` player: frames drawn when the notebook
# ran, swapped by the page's own JavaScript, so they move without a kernel.
PLAYER_MARK = 'class="anim-slider"'


def _players():
    """{page: number of to_jshtml players stored in its notebook's outputs}."""
    found = {}
    for page in PAGES:
        path = ROOT / f"{page}.ipynb"
        if not path.is_file():
            continue
        outputs = [o for c in json.loads(path.read_text())["cells"]
                   if c["cell_type"] == "code" for o in c["outputs"]]
        n = sum("".join(o.get("data", {}).get("text/html", "")).count(PLAYER_MARK)
                for o in outputs)
        if n:
            found[page] = n
    return found


PLAYERS = _players()


def _html_path(page):
    return f"{page}.html"  # index.html only redirects to the root page


def _build_if_missing():
    if (HTML / "index.html").is_file():
        return
    jb = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run([str(jb), "build", str(ROOT), "--builder", "html", "-W",
                          "--keep-going"], capture_output=True, text=True)
    assert run.returncode == 0, f"the book does not build:\n{run.stdout[-3000:]}"


@pytest.fixture(scope="module")
def server():
    """Base URL of _build/html served on 127.0.0.1 on a free port."""
    _build_if_missing()
    with serve(HTML) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


# Runs in the page once it has loaded: waits for MathJax and the widget manager,
# then reports what a reader would see.
_INSPECT = """async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise)
    await MathJax.startup.promise;
  const views = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]').length;
  for (let t = 0; views && t < 100; t++) {          // widgets render after load
    if (document.querySelectorAll('.jupyter-widgets').length >= views) break;
    await sleep(100);
  }
  await Promise.all(Array.from(document.images).map(img => {
    img.loading = 'eager';
    return img.complete ? null : img.decode().catch(() => null);
  }));
  const bare = document.body.cloneNode(true);       // prose only, without code
  bare.querySelectorAll('pre, code, script, style, mjx-container')
      .forEach(e => e.remove());
  const math = Array.from(document.querySelectorAll('.math'));
  return {
    images: document.images.length,
    brokenImages: Array.from(document.images)
      .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    mathElements: math.length,
    untypeset: math.filter(m => !m.querySelector('mjx-container'))
      .map(m => m.textContent.slice(0, 60)),
    mathErrors: Array.from(document.querySelectorAll('mjx-merror'))
      .map(e => e.textContent.slice(0, 60)),
    rawDollars: bare.textContent.includes('$$'),
    sidebar: Array.from(document.querySelectorAll('nav.bd-docs-nav a[href]'))
      .map(a => a.href),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    widgetViews: views,
    widgetsRendered: document.querySelectorAll('.jupyter-widgets').length,
    widgetErrors: document.body.innerText.includes('Error displaying widget'),
    solutions: document.querySelectorAll('.solution').length,
  };
}"""


@pytest.fixture(scope="module")
def visit(server, browser):
    """visit(page) -> what the page showed; each page is opened once."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    seen = {}

    def _visit(page):
        if page in seen:
            return seen[page]
        blocked, errors = [], []
        with _offline_tab(browser, blocked, errors) as tab:
            tab.goto(server + _html_path(page), wait_until="load",
                     timeout=TIMEOUT_MS)
            result = tab.evaluate(_INSPECT)
            if page in SCREENSHOT_PAGES:
                tab.screenshot(path=str(SHOTS / (page.replace("/", "__") + ".png")))
        result.update(blocked=blocked, errors=errors, url=server + _html_path(page))
        seen[page] = result
        return result

    yield _visit
    # What each page showed, for the record (the closing note lists it).
    report = {page: {"images": r["images"], "broken_images": len(r["brokenImages"]),
                     "math": r["mathElements"], "untypeset": len(r["untypeset"]),
                     "widgets_saved": r["widgetViews"],
                     "widgets_rendered": r["widgetsRendered"],
                     "links": len(r["links"]), "sidebar_links": len(r["sidebar"]),
                     "blocked_requests": len(r["blocked"]),
                     "js_errors": len(r["errors"]),
                     "solutions": r["solutions"]} for page, r in seen.items()}
    (SHOTS / "browser_report.json").write_text(json.dumps(report, indent=1))


@functools.lru_cache(maxsize=None)
def _anchors(path):
    """Every id (and old-style name) in a built HTML file."""
    text = Path(path).read_text(errors="replace")
    return set(re.findall(r'\b(?:id|name)="([^"]+)"', text))


def _local_target(href, base):
    """(file under _build/html, fragment) for a link to this server, else None."""
    url, root = urlsplit(href), urlsplit(base)
    if url.scheme not in ("http", "https") or url.netloc != root.netloc:
        return None
    path = HTML / unquote(url.path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(url.fragment)


def test_toc_pages_were_built(server):
    missing = [p for p in PAGES if not (HTML / _html_path(p)).is_file()]
    assert not missing, f"pages in _toc.yml with no HTML: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_no_request_leaves_the_machine(visit, page):
    assert not visit(page)["blocked"], \
        f"{page} needs the network for: {visit(page)['blocked'][:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_no_javascript_errors(visit, page):
    assert not visit(page)["errors"], f"{page}: {visit(page)['errors'][:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads(visit, page):
    assert not visit(page)["brokenImages"], \
        f"{page}: images that did not load: {visit(page)['brokenImages']}"


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset(visit, page):
    seen = visit(page)
    assert not seen["untypeset"], f"{page}: math left as TeX: {seen['untypeset'][:3]}"
    assert not seen["mathErrors"], f"{page}: TeX errors: {seen['mathErrors'][:3]}"
    assert not seen["rawDollars"], f"{page}: '$$' left in the prose (unparsed math)"


@pytest.mark.parametrize("page", PAGES)
def test_sidebar_links_every_chapter(visit, page):
    seen = visit(page)
    linked = {urlsplit(urljoin(seen["url"], href)).path.lstrip("/")
              for href in seen["sidebar"]}
    missing = [c for c in CHAPTERS if _html_path(c) not in linked]
    assert not missing, f"{page}: the sidebar has no link to {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_resolve(visit, server, page):
    broken = []
    for href in visit(page)["links"]:
        target = _local_target(href, server)
        if target is None:
            continue
        path, fragment = target
        if not path.is_file():
            broken.append(f"{href} (no such file)")
        elif fragment and path.suffix == ".html" and fragment not in _anchors(path):
            broken.append(f"{href} (no anchor #{fragment})")
    assert not broken, f"{page}: broken internal links: {broken[:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_saved_widgets_render(visit, page):
    seen = visit(page)
    assert seen["widgetsRendered"] >= seen["widgetViews"], \
        f"{page}: {seen['widgetViews']} widgets saved, {seen['widgetsRendered']} shown"
    assert not seen["widgetErrors"], f"{page}: 'Error displaying widget'"


@pytest.mark.parametrize("page", PAGES)
def test_student_build_shows_no_solution(visit, page):
    assert visit(page)["solutions"] == 0, \
        f"{page}: the student build shows {visit(page)['solutions']} solutions"


@pytest.mark.parametrize("page", sorted(PLAYERS))
def test_animations_move_without_a_kernel(server, browser, page):
    html = (HTML / _html_path(page)).read_text()
    assert html.count(PLAYER_MARK) == PLAYERS[page], \
        f"{page}: the notebook stores {PLAYERS[page]} animation players, the page " \
        f"has {html.count(PLAYER_MARK)}"
    blocked, errors = [], []
    with _offline_tab(browser, blocked, errors) as tab:
        tab.goto(server + _html_path(page), wait_until="load", timeout=TIMEOUT_MS)
        players = tab.locator("div.animation")
        assert players.count() == PLAYERS[page], f"{page}: players not shown"
        for k in range(PLAYERS[page]):
            player = players.nth(k)
            image = player.locator("img")
            slider = player.locator("input.anim-slider")
            # The player starts in a setTimeout: wait for its first frame.
            tab.wait_for_function("img => img.src !== ''", arg=image.element_handle(),
                                  timeout=TIMEOUT_MS)
            last = int(slider.get_attribute("max"))     # set by the player's JS
            assert last >= 1, f"{page}: player {k} has {last + 1} frame"
            shown = [image.get_attribute("src")]
            player.get_by_role("button", name="Next frame").click()
            shown.append(image.get_attribute("src"))
            assert slider.input_value() == "1", f"{page}: Next frame did not step"
            slider.press("End")                        # a reader's keyboard
            shown.append(image.get_attribute("src"))
            assert slider.input_value() == str(last), f"{page}: slider stuck"
            assert all(s.startswith("data:image/png;base64,") for s in shown), \
                f"{page}: player {k} shows no embedded PNG frame"
            assert len(set(shown)) == 3, \
                f"{page}: player {k} showed the same frame after moving"
    assert not blocked, f"{page}: the player needs the network for {blocked[:3]}"
    assert not errors, f"{page}: {errors[:5]}"


def test_screenshots_written(visit):
    for page in SCREENSHOT_PAGES:
        visit(page)
    shots = {p.stem for p in SHOTS.glob("*.png")}
    missing = [p for p in SCREENSHOT_PAGES if p.replace("/", "__") not in shots]
    assert not missing, f"no screenshot for {missing}"

