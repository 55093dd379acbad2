"""Diagrams of the book, drawn by code: one module per diagram, each with a
`draw()` returning a matplotlib Figure and a `PATH` (relative to the repository)
of the SVG it is saved to. `python -m tools.diagrams` (`make diagrams`) redraws
them all; tests/test_diagrams.py checks the committed SVGs are up to date.

The SVGs are deterministic (fixed hash salt, no date) and have an opaque white
background with dark ink, so they read alike in the book's light and dark modes;
fonts are converted to paths, so they look the same offline on every machine.
"""
import importlib
import io
import pkgutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STYLE = {"svg.hashsalt": "lstm-book", "svg.fonttype": "path", "font.size": 10,
         "figure.facecolor": "white", "savefig.facecolor": "white",
         "text.color": "#1a1a1a", "axes.edgecolor": "#1a1a1a"}


def modules():
    """The diagram modules, sorted by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__)
                   if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{n}") for n in names]


def render(module, fmt="svg"):
    """The SVG text of one diagram module (or, with fmt="pdf", its PDF bytes)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        fig = module.draw()
        if fmt == "pdf":
            buf = io.BytesIO()
            fig.savefig(buf, format="pdf", bbox_inches="tight",
                        metadata={"CreationDate": None, "ModDate": None})
        else:
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None},
                        bbox_inches="tight")
        plt.close(fig)
    return buf.getvalue()


def main():
    for module in modules():
        path = ROOT / module.PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(module))
        print(f"{module.PATH}")


if __name__ == "__main__":
    main()
