"""Serve MathJax, RequireJS and the Jupyter widgets HTML manager from the book itself.

Students often read the book on poor networks, so the built HTML must not need a CDN.
This module has two faces with one job:

- a Sphinx extension, named in `_config.yml` (`sphinx: local_extensions:`): when the
  build starts (`config-inited`) it fetches the pinned npm packages once into
  `_build/offline_assets/` (ignored by git: no third-party file is committed), adds
  that folder to `html_static_path` and points `mathjax_path` and myst-nb's
  `nb_ipywidgets_js` at the local copies. If they cannot be fetched (no npm, no
  network) the build keeps the CDN URLs and prints that it did;
- a command, `python -m tools.offline_assets [--slides] DEST`, that fetches the same
  files (or reveal.js, RequireJS, MathJax 2 and the widget manager for
  `make slides`) into DEST.

While it is there it also keeps every page free of JavaScript errors: it drops a
duplicated inline script and points the widget fonts at our copy (`_page_scripts`),
and adds tools/static/widgets_mathjax3.js (ipywidgets 8 calls the MathJax 2 API).

Files come from the npm registry with `npm pack`; npm checks each tarball against the
registry's checksum and we check that checksum against the one pinned below, so the
served files are exactly these versions. html-manager 1.0.6 is the bundle myst-nb
1.4 loads from its CDN for ipywidgets 8 (widgets protocol 2); it defines the built-in
widget modules itself, so it needs nothing else but its fonts (found through the
RequireJS mapping in `_page_scripts`). References: Sphinx `mathjax_path` ("relative to the _static directory
of the built docs"), myst-nb `nb_ipywidgets_js`, ipywidgets "Embedding Jupyter Widgets".
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# npm spec -> (sha512 integrity of the tarball, kept paths inside `package/`, prefixes).
MATHJAX = ("mathjax@3.2.2",
           "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZG"
           "JvtRZM1vO+geW0OhGw==",
           # the combined TeX+MathML/CHTML component, the TeX extensions it autoloads,
           # its fonts, and the menu / accessibility parts it loads on demand
           ("es5/tex-mml-chtml.js", "es5/input/", "es5/output/chtml", "es5/ui/",
            "es5/a11y/", "es5/sre/", "LICENSE"))
REQUIREJS = ("requirejs@2.3.8",
             "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5ot"
             "XKGNehIonFlyQXSowL6Mw==",
             ("require.js", "LICENSE"))
HTML_MANAGER = ("@jupyter-widgets/html-manager@1.0.6",
                "sha512-+Mn+Ra8wyIHrYaUpfmf9A3dsLkt/NuwzPQN8sthdxBD35VV5cOJbpmgMhNR27"
                "n/rmP3mKyEe0PWCJrtZrXTXDQ==",
                # the AMD bundle and the Font Awesome files its CSS points to
                ("dist/embed-amd.js", "dist/*.woff2", "dist/*.woff", "dist/*.ttf",
                 "dist/*.eot", "dist/*.svg", "LICENSE"))
REVEAL = ("reveal.js@4.0.2",  # the version nbconvert 7's slides template expects
          "sha512-LWZSUenufF1gpD7npxJ7KfoQQFKgc1D6XrLTFgKlwWNP1BQ74hT48KONFWMAw+8R/QUe"
          "aScCLCLrBVHDfFIEiw==",
          ("dist/", "plugin/", "LICENSE"))

MATHJAX2 = ("mathjax@2.7.9",  # nbconvert 7's slides template calls the MathJax 2 API
            "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CC"
            "Vl5p9G2IHcAl/wJa+5+BQ==",
            # its TeX-AMS_CHTML-full configuration and what that loads
            ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js",
             "extensions/", "jax/input/TeX/", "jax/output/CommonHTML/", "jax/element/",
             "fonts/HTML-CSS/TeX/woff/", "LICENSE"))

# Not part of the book: the accessibility engine tests/test_accessibility.py runs in
# each built page (fetched at test time, like the book's own assets).
AXE_CORE = ("axe-core@4.14.1",
            "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyF"
            "NNtuFooJpZe37OgudVGtQ==",
            ("axe.min.js", "LICENSE"))

BOOK = {"mathjax": MATHJAX, "requirejs": REQUIREJS, "html-manager": HTML_MANAGER}
SLIDES = {"reveal.js": REVEAL, "requirejs": REQUIREJS, "mathjax2": MATHJAX2,
          "html-manager": HTML_MANAGER}

# Paths of the local copies relative to `_static/` (how Sphinx resolves them).
MATHJAX_JS = "offline/mathjax/es5/tex-mml-chtml.js"
REQUIRE_JS = "offline/requirejs/require.js"
EMBED_AMD_JS = "offline/html-manager/dist/embed-amd.js"
NPM_TIMEOUT_S = 300


def _kept(name, keep):
    """True if `name` (a path inside the package) is one of the files to keep."""
    for pattern in keep:
        if "*" in pattern:
            folder, suffix = pattern.split("*")
            if name.startswith(folder) and "/" not in name[len(folder):] \
                    and name.endswith(suffix):
                return True
        elif name == pattern or name.startswith(pattern):
            return True
    return False


def _unpack(tarball, keep, dest):
    with tarfile.open(tarball) as tar:
        members = []
        for m in tar.getmembers():
            name = m.name.split("/", 1)[1] if "/" in m.name else ""
            if m.isfile() and _kept(name, keep):
                m.name = name
                members.append(m)
        if not members:
            raise RuntimeError(f"{tarball.name} holds none of {keep}")
        tar.extractall(dest, members=members, filter="data")


def fetch(packages, dest, npm="npm"):
    """Fetch `packages` ({folder: (spec, integrity, keep)}) into dest/<folder>/.

    Returns dest. Does nothing if dest already holds these exact versions; raises
    RuntimeError (or OSError) if npm is missing, offline or serves other bytes.
    """
    dest = Path(dest).resolve()  # npm runs in a temporary folder
    stamp = {folder: spec for folder, (spec, _, _) in packages.items()}
    if (dest / "versions.json").is_file() and \
            json.loads((dest / "versions.json").read_text()) == stamp:
        return dest
    if shutil.which(npm) is None:
        raise RuntimeError(f"'{npm}' (Node.js) is not installed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Same disk for an atomic move; a dot name, which Sphinx never copies to _static.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as tmp:
        tmp = Path(tmp)
        # No retries and a short timeout: with no network, fail fast and fall back.
        cmd = [npm, "pack", "--json", "--silent", "--fetch-retries=0",
               "--fetch-timeout=60000", "--pack-destination", str(tmp),
               *[spec for spec, _, _ in packages.values()]]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                             cwd=tmp)
        if run.returncode:
            raise RuntimeError(f"npm pack failed ({run.returncode}): "
                               f"{(run.stderr + run.stdout).strip()[-300:]}")
        packed = {p["id"]: p for p in json.loads(run.stdout)}
        out = tmp / "out"
        for folder, (spec, integrity, keep) in packages.items():
            got = packed.get(spec, {}).get("integrity")
            if got != integrity:
                raise RuntimeError(f"{spec}: checksum {got} is not the pinned one, "
                                   f"{integrity}")
            _unpack(tmp / packed[spec]["filename"], keep, out / folder)
        (out / "versions.json").write_text(json.dumps(stamp, indent=1))
        if dest.exists():
            shutil.rmtree(dest)
        try:
            out.rename(dest)
        except OSError:  # a concurrent build got there first: use its copy if complete
            if json.loads((dest / "versions.json").read_text()) != stamp:
                raise
    return dest


# ----------------------------------------------------------------------------- Sphinx

def _use_local_assets(app, config):
    """config-inited: serve the assets from `_static/offline/`, or keep the CDN."""
    from sphinx.util import logging
    log = logging.getLogger(__name__)
    static = Path(app.srcdir) / "_build" / "offline_assets" / "static"
    try:
        fetch(BOOK, static / "offline")
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as err:
        # info, not a warning: a build with -W must still succeed without a network
        log.info(f"offline_assets: could not fetch MathJax, RequireJS and the widget "
                 f"manager ({err}); FALLING BACK TO THE CDN: this build needs a "
                 f"network to show math and widgets")
        return
    config.html_static_path = [*config.html_static_path, str(static)]
    config.mathjax_path = MATHJAX_JS
    # Same scripts myst-nb loads from its CDN by default, now from _static; no
    # data-jupyter-widgets-cdn: built-in widgets need no extra module.
    config.nb_ipywidgets_js = {REQUIRE_JS: {}, EMBED_AMD_JS: {}}
    log.info(f"offline_assets: MathJax, RequireJS and the widget manager served from "
             f"_static/offline (cached in {static})")


def _page_scripts(app, pagename, templatename, context, doctree):
    """html-page-context, after myst-nb has added a page's widget scripts.

    1. sphinx-thebe 0.3.1's inline config reaches each page twice (once with
       filename None, once with '', which Sphinx 7.4 does not see as equal), so
       `const THEBE_JS_URL` was declared twice: a JavaScript error. Keep one copy.
    2. The widget bundle loads its Font Awesome files from beside the URL RequireJS
       gives its module, by default the page's own folder (a 404, online too). A
       global `require` set before require.js loads is read as its configuration:
       map the bundle's folder to our copy, relative to this page.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # Sphinx restores the list after each page
    dist = "_static/" + EMBED_AMD_JS.rsplit("/", 1)[0]
    if any(js.filename == "_static/" + EMBED_AMD_JS for js in scripts):
        config = {"paths": {"@jupyter-widgets/html-manager/dist":
                            context["pathto"](dist, 1)}}
        app.add_js_file(None, body=f"var require = {json.dumps(config)};", priority=400)


def _add_shim(app, config):
    """config-inited: our own tools/static/widgets_mathjax3.js, after MathJax."""
    config.html_static_path = [*config.html_static_path, str(Path(__file__).parent
                                                             / "static")]
    app.add_js_file("widgets_mathjax3.js", defer="defer", priority=510)


def setup(app):
    # before myst-nb reads nb_ipywidgets_js at builder-inited
    app.connect("config-inited", _use_local_assets, priority=100)
    app.connect("config-inited", _add_shim)
    app.connect("html-page-context", _page_scripts, priority=600)  # after myst-nb's
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dest", help="folder to fill")
    parser.add_argument("--slides", action="store_true",
                        help="the assets of `make slides` (reveal.js, MathJax 2...)")
    args = parser.parse_args(argv)
    try:
        fetch(SLIDES if args.slides else BOOK, args.dest)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as err:
        print(f"offline_assets: could not fetch the assets: {err}", file=sys.stderr)
        return 1
    print(f"offline_assets: assets in {os.path.relpath(args.dest)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
