"""Notebook hygiene: nbval skips cells that were never run, so check that here.

Every chapter notebook must be committed executed top to bottom in a fresh kernel
(execution counts 1..n), with no error output outside `raises-exception` cells, no
huge image, and listed in `_toc.yml`.
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
