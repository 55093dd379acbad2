"""tools/offline_assets.py: local assets when fetched, the CDN (and a notice) when not.

The real fetch from npm runs in every `make book`; here the Sphinx hook is driven
with a stand-in app so that both outcomes are checked without a network.
"""
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import offline_assets  # noqa: E402  (a Sphinx local extension, not a package)

CDN_MATHJAX = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"


def _config():
    return SimpleNamespace(html_static_path=["_static"], mathjax_path=CDN_MATHJAX,
                           nb_ipywidgets_js={"https://cdn.example/require.js": {}})


def test_fetched_assets_replace_the_cdn(tmp_path, monkeypatch):
    monkeypatch.setattr(offline_assets, "fetch", lambda packages, dest: dest)
    config = _config()
    offline_assets._use_local_assets(SimpleNamespace(srcdir=str(tmp_path)), config)
    assert config.mathjax_path == offline_assets.MATHJAX_JS
    assert set(config.nb_ipywidgets_js) == {offline_assets.REQUIRE_JS,
                                            offline_assets.EMBED_AMD_JS}
    assert config.html_static_path[-1] == str(tmp_path / "_build" / "offline_assets"
                                              / "static")


def test_unfetchable_assets_keep_the_cdn_and_say_so(tmp_path, monkeypatch, caplog):
    def offline(packages, dest):
        raise RuntimeError("no network")
    monkeypatch.setattr(offline_assets, "fetch", offline)
    config = _config()
    with caplog.at_level(logging.INFO):
        offline_assets._use_local_assets(SimpleNamespace(srcdir=str(tmp_path)), config)
    assert config.mathjax_path == CDN_MATHJAX
    assert config.html_static_path == ["_static"]
    assert "FALLING BACK TO THE CDN" in caplog.text and "no network" in caplog.text


def test_fetch_without_npm_raises(tmp_path):
    with pytest.raises(RuntimeError, match="not installed"):
        offline_assets.fetch(offline_assets.BOOK, tmp_path / "x", npm="no-such-npm")


def test_only_the_listed_files_are_kept():
    keep = offline_assets.HTML_MANAGER[2]
    assert offline_assets._kept("dist/embed-amd.js", keep)
    assert offline_assets._kept("dist/1551f4f60c37af51121f.woff2", keep)
    assert not offline_assets._kept("dist/embed.js.map", keep)
    assert not offline_assets._kept("dist/sub/x.woff2", keep)
