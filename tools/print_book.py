"""The printed book (`make pdf`): static twins for what moves, no folded-away code.

A Sphinx extension (local_extensions in _config.yml) for the LaTeX builder. The
HTML book keeps everything; in print, where nothing moves and nothing unfolds:

- a widget cell (ipywidgets) is left out, code and all, for a note naming its
  controls and the settings it opens at. House style (STYLE.md) puts the widget's
  static twin, the figure at those settings, just before it: the figure stored in
  the widget's state is looked for among the notebook's earlier outputs, and
  printed with the note when it is not there;
- a player (`lstm_core.viz.player`, matplotlib's to_jshtml) is printed as up to
  four of its frames, first and last included, two to a row, with a note;
- Sphinx gathers every citation of the book into one bibliography at its end (it
  is titled References, `latex_elements` in _config.yml); the References chapter
  it leaves empty is dropped, so the back matter is the bibliography itself;
- any other output that only a browser can show (HTML or JavaScript whose plain
  text is a mere `<... object>`) is a warning, so `make pdf` (-W) fails rather
  than print `<IPython.core.display.HTML object>`.

Code cells tagged `hide-input` lose their code in print already
(sphinx-jupyterbook-latex). These are post-transforms, run for the LaTeX builder
only, on the doctrees the HTML build shares. `python -m tools.print_book --check`
tells whether TeX is installed.
"""
import base64
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

# Debian's packages for `make pdf` (.ci/run installs the same, a test checks).
TEX_PACKAGES = ("texlive-latex-recommended", "texlive-latex-extra",
                "texlive-fonts-recommended", "texlive-xetex", "latexmk",
                "fonts-freefont-otf")
TEX_TOOLS = ("xelatex", "latexmk")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BROWSER_ONLY = {"text/html", "application/javascript", WIDGET_VIEW}
FRAME = re.compile(r'frames\[\d+\] = "data:image/(png|jpeg);base64,([^"]*)"')
MAX_FRAMES = 4
logger = logging.getLogger(__name__)


def tex_missing():
    """The TeX tools `make pdf` needs that are not on the PATH."""
    return [tool for tool in TEX_TOOLS if shutil.which(tool) is None]


def tex_hint():
    return ("install TeX Live, on Debian or Ubuntu: sudo apt-get install "
            + " ".join(TEX_PACKAGES))


def player_frames(html):
    """The frames (bytes, extension) of a to_jshtml player's HTML; [] if none."""
    if "new Animation(frames" not in html:
        return []
    return [(base64.b64decode(data.replace("\\\n", "")), "png" if kind == "png"
             else "jpg") for kind, data in FRAME.findall(html)]


def chosen(n, most=MAX_FRAMES):
    """Indices of up to `most` frames of n, evenly spread, first and last kept."""
    if n <= most:
        return list(range(n))
    return sorted({round(k * (n - 1) / (most - 1)) for k in range(most)})


def widget_controls(state, model_id):
    """[(description, value)] of the controls under a widget, and its figures
    (base64 PNG strings of its Output widgets), from the notebook's widget state."""
    controls, figures, todo, seen = [], [], [model_id], set()  # depth first
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        model = state[mid]["state"]
        if state[mid]["model_name"] == "OutputModel":
            figures += [o["data"]["image/png"] for o in model.get("outputs", [])
                        if "image/png" in o.get("data", {})]
        elif model.get("description"):
            if "_options_labels" in model and "index" in model:
                value = model["_options_labels"][model["index"]]
            else:
                value = model.get("value")
            value = f"{value:g}" if isinstance(value, float) else str(value)
            controls.append((model["description"], value))
        todo[:0] = [c[len("IPY_MODEL_"):] for c in model.get("children", [])
                    if isinstance(c, str) and c.startswith("IPY_MODEL_")]
    return controls, figures


def _png_text(data):
    return "".join(data) if isinstance(data, list) else data


class PrintTwins(SphinxPostTransform):
    """Widgets and players by their static twins."""

    default_priority = 3          # before MyST-NB's SelectMimeType (4)
    builders = ("latex",)

    def run(self, **kwargs):
        self.folder = Path(self.app.outdir) / "print"
        self._notebooks = {}
        cells = [n for n in self.document.findall(nodes.container)
                 if n.get("nb_element") == "cell_code"]
        for cell in cells:
            self._cell(cell)

    def _cell(self, cell):
        for bundle in [n for n in cell.findall(nodes.container)
                       if n.get("nb_element") == "mime_bundle"]:
            kinds = {c["mime_type"]: c for c in bundle.children}
            if WIDGET_VIEW in kinds:
                cell.replace_self(self._widget(cell, kinds[WIDGET_VIEW]))
                return
            html = kinds["text/html"].astext() if "text/html" in kinds else ""
            frames = player_frames(html)
            plain = kinds["text/plain"].astext().strip() if "text/plain" in kinds \
                else ""
            if frames:
                bundle.replace_self(self._player(frames))
            elif (not set(kinds) - BROWSER_ONLY - {"text/plain"}
                  and (not plain or re.fullmatch(r"<.* object>", plain))):
                logger.warning(f"an output only a browser can show ({', '.join(kinds)})"
                               " has no static twin in print", location=cell)

    def _notebook(self, cell):
        path = cell.source or cell.get("source")
        if path not in self._notebooks:
            self._notebooks[path] = json.loads(Path(path).read_text())
        return self._notebooks[path]

    def _image(self, data, ext, alt, width="48%"):
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{hashlib.sha1(data).hexdigest()[:20]}.{ext}"
        (self.folder / name).write_bytes(data)
        uri = f"print/{name}"
        return nodes.image(uri=uri, candidates={"*": uri}, alt=alt, width=width)

    def _player(self, frames):
        picked = chosen(len(frames))
        images = []
        for k in picked:
            data, ext = frames[k]
            images += [self._image(data, ext, f"frame {k + 1} of {len(frames)}"),
                       nodes.Text(" ")]
        shown = ", ".join(str(k + 1) for k in picked)
        note = (f"Frames {shown} of {len(frames)}; the HTML book and the notebook "
                "show them in a player with a slider."
                if len(picked) < len(frames) else
                f"All {len(frames)} frames; the HTML book and the notebook show them "
                "in a player with a slider.")
        return [nodes.paragraph("", "", *images[:-1]),
                nodes.paragraph("", "", nodes.emphasis(text=note))]

    def _widget(self, cell, view):
        nb = self._notebook(cell)
        match = re.search(r'"model_id"\s*:\s*"([0-9a-f]+)"', view.astext())
        state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {})
        controls, figures = widget_controls(state.get("state", {}),
                                            match.group(1) if match else "")
        earlier = {}                  # PNG text: the figure's name (label), or ""
        for c in nb["cells"][:cell["cell_index"]]:
            name = c["metadata"].get("mystnb", {}).get("figure", {}).get("name", "")
            for o in c.get("outputs", []):
                earlier[_png_text(o.get("data", {}).get("image/png", ""))] = name
        missing = [f for f in figures if _png_text(f) not in earlier]
        names = ", ".join(name for name, _ in controls) or "controls"
        settings = ", ".join(f"{name} = {value}" for name, value in controls)
        text = (f"In the notebook an explorer stands here, with {names}. It opens "
                f"at {settings or 'its defaults'}")
        labels = [earlier[_png_text(f)] for f in figures if _png_text(f) in earlier]
        if missing or not figures:
            tail = [nodes.Text(", shown below." if missing else ".")]
        elif all(labels):             # floats move: name the twin by its number
            tail = [nodes.Text(", the settings of ")]
            for k, label in enumerate(labels):
                tail += [nodes.Text(" and ")] if k else []
                tail.append(addnodes.pending_xref(
                    "", nodes.inline("", label), refdomain="std", reftype="numref",
                    reftarget=label, refexplicit=False, refwarn=True,
                    refdoc=self.env.docname))
            tail.append(nodes.Text("."))
        else:
            tail = [nodes.Text(", the settings of the figure drawn before it.")]
        out = [nodes.paragraph("", "", nodes.emphasis("", "", nodes.Text(text),
                                                      *tail))]
        for fig in missing:
            image = self._image(base64.b64decode(_png_text(fig)), "png",
                                f"the explorer at {settings}", width="80%")
            out.append(nodes.paragraph("", "", image))
        return out


class DropEmptiedChapters(SphinxPostTransform):
    """Leave out a chapter that Sphinx's BibliographyTransform emptied."""

    default_priority = 760        # after BibliographyTransform (750)
    builders = ("latex",)

    def run(self, **kwargs):
        for doc in list(self.document.findall(addnodes.start_of_file)):
            if doc.parent is None:
                continue
            sections = [n for n in doc.children if isinstance(n, nodes.section)]
            kept = [n for s in sections for n in s.children
                    if not isinstance(n, (nodes.title, nodes.target))
                    and not (isinstance(n, nodes.container) and not n.children)]
            if sections and len(sections) == len(doc.children) and not kept:
                doc.parent.remove(doc)


class PrintDiagrams(SphinxPostTransform):
    """The book's SVG diagrams (tools/diagrams) as PDFs drawn by the same code.

    LaTeX cannot include SVG, and Sphinx's converter would need ImageMagick or
    Inkscape; each diagram module draws its figure, so it is saved as a vector PDF
    (no date, so the same bytes every time) into the build folder instead.
    """

    default_priority = 3          # before Sphinx's ImageConverter (10)
    builders = ("latex",)

    def run(self, **kwargs):
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tools import diagrams
        by_path = {m.PATH: m for m in diagrams.modules()}
        folder = Path(self.app.outdir) / "print"
        for node in self.document.findall(nodes.image):
            module = by_path.get(node["uri"])
            if module is None:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            name = Path(module.PATH).with_suffix(".pdf").name
            (folder / name).write_bytes(diagrams.render(module, "pdf"))
            node["uri"] = f"print/{name}"
            node["candidates"] = {"*": node["uri"]}


def setup(app):
    app.add_post_transform(PrintDiagrams)
    app.add_post_transform(PrintTwins)
    app.add_post_transform(DropEmptiedChapters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv):
    if "--check" in argv:
        missing = tex_missing()
        if missing:
            print(f"make pdf: {', '.join(missing)} not found: {tex_hint()}",
                  file=sys.stderr)
            return 1
        return 0
    print(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
