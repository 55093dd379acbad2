"""Headless Chromium for the browser tests (test_browser.py, test_lab.py).

Debian's `chromium`, driven by Playwright's Python API (Playwright's own browser
download is never used). Each tab aborts every request that leaves 127.0.0.1 and
records it, and records every JavaScript error and failed response.
"""
import contextlib
import functools
import http.server
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
# As root in a container: no sandbox, no GPU, and no background connections (which
# this closed network refuses, and which are not the page's own requests).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]


def unavailable(reason, what="the browser test"):
    """Skip with the hint to install what is missing; fail instead with CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: {what} must run)")
    pytest.skip(f"{reason}. To run {what}: sudo apt-get install chromium "
                f"(Debian/Ubuntu), then `make test`")


@contextlib.contextmanager
def chromium(what="the browser test"):
    """A headless Chromium, closed on exit; skips (fails with CI=true) without it."""
    if not Path(CHROMIUM).is_file():
        unavailable(f"{CHROMIUM} is not installed", what)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is missing (make venv)", what)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def offline_tab(browser, blocked, errors, viewport=(1280, 900)):
    """A new tab that aborts every request off 127.0.0.1 (listed in `blocked`)
    and lists every JavaScript error and failed response in `errors`."""
    context = browser.new_context(viewport={"width": viewport[0],
                                            "height": viewport[1]})

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console: {msg.text}")
           if msg.type == "error" else None)
    tab.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}")
           if r.status >= 400 else None)
    try:
        yield tab
    finally:
        context.close()


@contextlib.contextmanager
def serve(folder):
    """The base URL of `folder` served on 127.0.0.1 on a free port, while open."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def toc_pages(root):
    """(every page of root/_toc.yml in reading order, the chapters), no suffix."""
    import yaml
    toc = yaml.safe_load((Path(root) / "_toc.yml").read_text())
    pages, chapters = [toc["root"]], []

    def walk(entries, top):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
                if top:
                    chapters.append(entry["file"])
            walk(entry.get("sections"), False)

    for part in toc.get("parts", [{"chapters": toc.get("chapters")}]):
        walk(part.get("chapters"), True)
    return pages, chapters
