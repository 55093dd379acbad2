"""The printed book (`make pdf`): title, chapters in order, static twins, no code
that the HTML book folds away, and nothing a browser alone can show.

The PDF is read back with poppler's pdftotext, pdfinfo and pdfimages. Where it is
missing or older than the book's sources it is built first, as `make pdf` does.
Without TeX (xelatex, latexmk) or poppler-utils the tests skip with a hint; with
CI=true they fail instead (.ci/run installs both).
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import print_book  # noqa: E402  (a Sphinx local extension, not a package)

ROOT = Path(__file__).resolve().parents[1]
PDF = ROOT / "_build" / "latex" / "lstms-measured.pdf"
CHAPTERS = re.findall(r"file:\s*(chapters/\S+)", (ROOT / "_toc.yml").read_text())
SOURCES = [ROOT / f"{c}.ipynb" for c in CHAPTERS] + [
    ROOT / name for name in ("intro.md", "references.md", "references.bib",
                             "_config.yml", "_toc.yml", "tools/print_book.py")]


def _unavailable(reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: .ci/run installs them, the PDF test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pdf():
    missing = print_book.tex_missing()
    if missing:
        _unavailable(f"{', '.join(missing)} not found: {print_book.tex_hint()}, "
                     "then `make pdf`")
    tools = [t for t in ("pdftotext", "pdfinfo", "pdfimages") if not shutil.which(t)]
    if tools:
        _unavailable(f"{', '.join(tools)} not found: sudo apt-get install "
                     "poppler-utils")
    newest = max(p.stat().st_mtime for p in SOURCES)
    if not PDF.is_file() or PDF.stat().st_mtime < newest:
        jb = Path(sys.executable).with_name("jupyter-book")
        run = subprocess.run([str(jb), "build", str(ROOT), "--builder", "pdflatex",
                              "-W", "--keep-going"], capture_output=True, text=True)
        assert run.returncode == 0 and PDF.is_file(), \
            f"`make pdf` fails:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    text = subprocess.run(["pdftotext", str(PDF), "-"], capture_output=True,
                          text=True, check=True).stdout
    return {"text": text, "flat": " ".join(text.split())}


def _notebooks():
    return {c: json.loads((ROOT / f"{c}.ipynb").read_text()) for c in CHAPTERS}


def _title(nb):
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        m = re.match(r"# (.+)", src)
        if cell["cell_type"] == "markdown" and m:
            return m.group(1).strip()
    raise AssertionError("a chapter without a title")


def test_title_author_and_file_name(pdf):
    info = subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"^Title:\s+LSTMs, measured$", info, re.M), info
    assert re.search(r"^Author:\s+The LSTM book team$", info, re.M), info
    version = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())[
        "project"]["version"]
    assert f"Release {version}" in pdf["text"]


def test_chapters_in_reading_order(pdf):
    flat = pdf["flat"]
    body = flat.index("This book teaches recurrent neural networks")  # after the TOC
    where = []
    for number, (chapter, nb) in enumerate(_notebooks().items(), 1):
        title = " ".join(_title(nb).split())
        # the running head of the chapter's pages, not a mention in an earlier one
        head = f"Chapter {number}. {title}"
        k = flat.find(head, body)
        assert k > 0, f"{chapter}: its running head {head!r} is not in the PDF"
        where.append(k)
    assert where == sorted(where), "the chapters are out of _toc.yml's order"
    assert flat.rfind("References") > where[-1]
    assert "Long short-term memory" in flat[where[-1]:]  # the bibliography, at the end


def test_nothing_only_a_browser_can_show(pdf):
    for junk in ("VBox(", "<IPython.core.display", "interactive(children",
                 "HTML object>", "\\odot", "\\frac", "{cite}", "{glue}"):
        assert junk not in pdf["text"], f"{junk!r} is printed"


def test_every_widget_and_player_has_its_twin(pdf):
    widgets = players = 0
    for nb in _notebooks().values():
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                widgets += print_book.WIDGET_VIEW in data
                players += bool(print_book.player_frames(
                    "".join(data.get("text/html", ""))))
    flat = pdf["flat"]
    assert widgets and players
    assert flat.count("In the notebook an explorer stands here") == widgets
    # each widget's twin is a numbered figure earlier in its chapter, named so
    assert len(re.findall(r"the settings of Fig\. \d+\.\d+\.", flat)) == widgets
    assert flat.count("show them in a player with a slider") == players


def test_hidden_code_is_left_out_and_shown_code_is_in(pdf):
    hidden, shown = set(), set()
    for nb in _notebooks().values():
        for cell in nb["cells"]:
            tags = cell["metadata"].get("tags", [])
            if cell["cell_type"] != "code" or "remove-cell" in tags:
                continue
            lines = [ln.strip() for ln in "".join(cell["source"]).splitlines()
                     if len(ln.strip()) > 30 and '"' not in ln and "'" not in ln]
            (hidden if "hide-input" in tags else shown).update(lines[:1])
    flat = pdf["flat"]
    assert hidden and shown
    found_shown = [ln for ln in shown if " ".join(ln.split()) in flat]
    # pdftotext reads code back (most lines: a few wrap), so absence means left out
    assert len(found_shown) > 0.8 * len(shown), "code is not read back from the PDF"
    printed = [ln for ln in hidden if " ".join(ln.split()) in flat]
    assert not printed, f"hide-input code is printed: {printed[:3]}"


def test_figures_are_in(pdf):
    images = subprocess.run(["pdfimages", "-list", str(PDF)], capture_output=True,
                            text=True, check=True).stdout.splitlines()[2:]
    pngs = sum("image/png" in out.get("data", {})
               for nb in _notebooks().values() for c in nb["cells"]
               for out in c.get("outputs", []))
    assert len(images) >= pngs, f"{len(images)} images in the PDF, {pngs} figures"


# ---- the print helpers, without TeX ----

def test_frames_chosen_evenly_first_and_last_kept():
    assert print_book.chosen(3) == [0, 1, 2]
    assert print_book.chosen(11) == [0, 3, 7, 10]
    assert print_book.chosen(12) == [0, 4, 7, 11]


def test_player_frames_are_read_from_the_players_html():
    import base64
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    data = base64.encodebytes(png).decode().replace("\n", "\\\n")
    html = ("var frames = new Array(2);\n"
            f'  frames[0] = "data:image/png;base64,{data}"\n'
            f'  frames[1] = "data:image/png;base64,{data}"\n'
            "anim = new Animation(frames, img_id, slider_id, 500, loop_id);")
    assert print_book.player_frames(html) == [(png, "png"), (png, "png")]
    assert print_book.player_frames("<p>not a player</p>") == []


def test_widget_controls_in_the_order_shown():
    def model(name, **state):
        return {"model_name": name, "state": state}
    state = {"box": model("VBoxModel", children=["IPY_MODEL_row", "IPY_MODEL_seed",
                                                 "IPY_MODEL_out"]),
             "row": model("HBoxModel", children=["IPY_MODEL_decay", "IPY_MODEL_bias"]),
             "decay": model("SelectionSliderModel", description="decay",
                            _options_labels=["none", "0.99"], index=1),
             "bias": model("FloatSliderModel", description="b_in", value=-1.5),
             "seed": model("ToggleButtonsModel", description="seed",
                           _options_labels=["0", "1"], index=0),
             "out": model("OutputModel", outputs=[
                 {"output_type": "display_data", "data": {"image/png": "iVBOR"}}])}
    controls, figures = print_book.widget_controls(state, "box")
    assert controls == [("decay", "0.99"), ("b_in", "-1.5"), ("seed", "0")]
    assert figures == ["iVBOR"]
