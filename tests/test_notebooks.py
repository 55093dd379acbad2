"""Notebook hygiene: nbval skips cells that were never run, so check that here.

Every chapter notebook must be committed executed top to bottom in a fresh kernel
(execution counts 1..n), with no error output outside `raises-exception` cells, no
huge image, listed in `_toc.yml`, and drawn in the book's colour-blind-safe style.
"""
import base64
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
MAX_IMAGE_BYTES = 400_000


def _code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _ids(path):
    return str(path.relative_to(ROOT))


def test_chapters_exist():
    assert NOTEBOOKS, "no notebooks under chapters/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_executed_top_to_bottom(path):
    counts = [c["execution_count"] for c in _code_cells(path)]
    assert None not in counts, f"{counts.count(None)} code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), \
        f"execution counts {counts} are not 1..n: re-run with `make execute`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_no_unexpected_errors(path):
    for i, cell in enumerate(_code_cells(path)):
        tags = cell["metadata"].get("tags", [])
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        if "raises-exception" in tags:
            assert errors, f"code cell {i} is tagged raises-exception but raised nothing"
        else:
            assert not errors, f"code cell {i} has an error output: {errors[0]['ename']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_images_are_small(path):
    for i, cell in enumerate(_code_cells(path)):
        for out in cell["outputs"]:
            png = out.get("data", {}).get("image/png")
            if png:
                size = len(base64.b64decode(png))
                assert size < MAX_IMAGE_BYTES, f"code cell {i} has a {size} byte image"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_listed_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text()
    entry = str(path.relative_to(ROOT).with_suffix(""))
    assert re.search(rf"file:\s*{re.escape(entry)}\s*$", toc, re.M), \
        f"{entry} is not in _toc.yml"


MAX_HTML_BYTES = 1_000_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_html_outputs_are_small(path):
    # to_jshtml players embed every frame: keep each page light for slow networks
    for c in _code_cells(path):
        for o in c["outputs"]:
            html = "".join(o.get("data", {}).get("text/html", ""))
            assert len(html) < MAX_HTML_BYTES, \
                f"an HTML output of {len(html)} bytes: fewer or smaller frames"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_colab_cell_and_slide_metadata(path):
    # The first cell installs the package on Colab (hidden in the book), and
    # every cell says how `make slides` shows it.
    import nbformat

    from tools import notebook_setup

    nb = nbformat.read(path, as_version=4)
    assert notebook_setup.update(nb, path) == [], \
        "out of date: run `python -m tools.notebook_setup`, then `make execute`"
    assert nb.cells[0].metadata["tags"] == ["remove-cell", "colab-setup"]


def test_slide_types_follow_the_headings():
    import nbformat

    from tools.notebook_setup import slide_types

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("# Title"), code("x = 1"), md("### Detail"), md("text"),
             md("```{exercise} Ex\n:label: ex-1\nDo it.\n```"),
             md("```{solution-start} ex-1\n```"), code("answer = 2"),
             md("```{solution-end}\n```"), md("## Next"),
             code("hidden", metadata={"tags": ["remove-cell"]})]
    assert slide_types(cells) == ["slide", "-", "subslide", "-", "subslide", "skip",
                                  "skip", "skip", "slide", "skip"]


def test_markdown_is_split_where_slides_start():
    import nbformat

    from tools.notebook_setup import split_markdown

    text = ("Intro.\n\n## Heading\n\n```python\n# a comment, not a heading\n```\n"
            "```{exercise} Ex\n:label: ex-1\n```\n\n```{solution} ex-1\nAnswer.\n```\n"
            "After.")
    pieces = [c.source for c in split_markdown([nbformat.v4.new_markdown_cell(text)])]
    assert pieces == ["Intro.",
                      "## Heading\n\n```python\n# a comment, not a heading\n```\n"
                      "```{exercise} Ex\n:label: ex-1\n```",
                      "```{solution} ex-1\nAnswer.\n```", "After."]


MAX_SIGNIFICANT_DIGITS = 4
_NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?(?![\w.])"
                     r"|(?<![\w.])[-+]?\d+[eE][-+]?\d+(?![\w.])")


def _significant_digits(token):
    mantissa = re.split("[eE]", token.lstrip("+-"))[0]
    return max(len(mantissa.replace(".", "").lstrip("0")), 1)


def _checked_texts(cell):
    """The text of each output nbval compares (streams, plain-text results, glue)."""
    if "nbval-ignore-output" in cell["metadata"].get("tags", []):
        return
    for out in cell["outputs"]:
        if out["output_type"] == "stream":
            yield "".join(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            data = out["data"]
            if not {"image/png", "text/html"} & set(data):
                yield "".join(data.get("text/plain", ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_printed_numbers_are_short(path):
    # A committed output is a promise that every reader's machine prints the same
    # (README, "Outputs that reproduce"): no checked float, glued value included,
    # with more than MAX_SIGNIFICANT_DIGITS digits. Parity errors are asserted
    # bounds, not printed; chaotic values go in nbval-ignore-output cells.
    for i, cell in enumerate(_code_cells(path)):
        for text in _checked_texts(cell):
            long = [m.group(0) for m in _NUMBER.finditer(text)
                    if _significant_digits(m.group(0)) > MAX_SIGNIFICANT_DIGITS]
            assert not long, (f"code cell {i} prints {long[:3]}: round to at most "
                              f"{MAX_SIGNIFICANT_DIGITS} significant digits, to what "
                              "holds on every machine")


def test_the_digit_rule_can_fail():
    cell = {"metadata": {}, "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "loss 0.12345, n 123456"},
        {"output_type": "display_data", "data": {"text/plain": "'5.4108e+04'"}}]}
    found = [m.group(0) for t in _checked_texts(cell) for m in _NUMBER.finditer(t)
             if _significant_digits(m.group(0)) > MAX_SIGNIFICANT_DIGITS]
    assert found == ["0.12345", "5.4108e+04"]        # integers are not floats
    cell["metadata"]["tags"] = ["nbval-ignore-output"]
    assert list(_checked_texts(cell)) == []


_GLUE_ROLE = re.compile(r"\{glue\}`([A-Za-z_][\w]*)")


def _glued_in_quotes(nb):
    """Names pasted into the prose by the plain {glue} role whose glued value is a
    Python string: {glue} pastes its repr, so the reader sees '95%' in quotes.
    ({glue:text} reads the repr back with literal_eval and shows 95% without them.)
    The value sits in "text/plain", or, glued with display=False, in
    "application/papermill.record/text/plain"."""
    used = {m.group(1) for c in nb["cells"] if c["cell_type"] == "markdown"
            for m in _GLUE_ROLE.finditer("".join(c["source"]))}
    quoted = []
    for c in nb["cells"]:
        for out in c.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            data = out.get("data", {})
            text = "".join(data.get("text/plain", "")
                           or data.get("application/papermill.record/text/plain", ""))
            if name in used and text[:1] in ("'", '"'):
                quoted.append(f"{name} = {text}")
    return quoted


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_glued_text_reads_without_quotes(path):
    quoted = _glued_in_quotes(json.loads(path.read_text()))
    assert not quoted, (f"glued strings show in quotes in the book: {quoted[:3]}; "
                        "paste them with {glue:text}`name` (or glue the number and "
                        "format it in the role, {glue:text}`name:.1%`)")


def test_the_quote_rule_can_fail():
    nb = {"cells": [
        {"cell_type": "markdown", "source": [
            "we get {glue}`acc`, {glue}`hid`, {glue:text}`n:.0f` and {glue:text}`s`"]},
        {"cell_type": "code", "outputs": [
            {"output_type": "display_data", "metadata": {"scrapbook": {"name": "acc"}},
             "data": {"text/plain": "'95%'"}},
            {"output_type": "display_data", "metadata": {"scrapbook": {"name": "hid"}},
             "data": {"application/papermill.record/text/plain": "'7'"}},
            {"output_type": "display_data", "metadata": {"scrapbook": {"name": "n"}},
             "data": {"text/plain": "12.0"}},
            {"output_type": "display_data", "metadata": {"scrapbook": {"name": "s"}},
             "data": {"text/plain": "'fine'"}}]}]}
    assert _glued_in_quotes(nb) == ["acc = '95%'", "hid = '7'"]


_RED_GREEN = re.compile(r"""["'](?:tab:|xkcd:)?(?:red|green|darkred|darkgreen|lime)["']"""
                        r"""|["'][rg](?:-|--|-\.|:|o|\.|s|x)["']"""
                        r"""|\bcolou?r\s*=\s*["'][rg]["']""")


def _colour_faults(nb):
    """Why a notebook's figures may be unreadable to a colour-blind reader: it draws
    without the book's style (viz.use_book_style: Okabe & Ito colours, each with its
    own line style), or it names red or green colours itself."""
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    draws = any("image/png" in out.get("data", {})
                for c in nb["cells"] for out in c.get("outputs", []))
    faults = []
    if draws and not any("use_book_style()" in src for src in code):
        faults.append("draws figures without viz.use_book_style()")
    faults += [f"names {m.group(0)}" for src in code for m in _RED_GREEN.finditer(src)]
    return faults


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_figures_are_colour_blind_safe(path):
    faults = _colour_faults(json.loads(path.read_text()))
    assert not faults, (f"{faults[:3]}: call viz.use_book_style() in the import cell "
                        "and pick colours from viz.COLORS (lstm_core/palette.py), with "
                        "a line style or marker as a second cue")


def test_the_colour_rule_can_fail():
    png = {"output_type": "display_data", "data": {"image/png": "iVBOR"}}
    plain = {"cells": [{"cell_type": "code", "source": ["plt.plot(x)"],
                        "outputs": [png]}]}
    assert _colour_faults(plain) == ["draws figures without viz.use_book_style()"]
    styled = {"cells": [{"cell_type": "code", "outputs": [png], "source": [
        "viz.use_book_style()\n", "ax.plot(x, color=\"tab:red\")\n",
        "ax.plot(y, \"g--\")\n", "ax.plot(w, color='r')\n",
        "g = gates(\"g\")\n", "ax.plot(z, color=COLORS[\"blue\"])"]}]}
    assert _colour_faults(styled) == ["names \"tab:red\"", "names \"g--\"",
                                      "names color='r'"]
