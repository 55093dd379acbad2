"""The book's diagrams (tools/diagrams/) are committed as SVG and up to date."""
import pytest

from tools import diagrams

MODULES = diagrams.modules()


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__.split(".")[-1]
                                                 for m in MODULES])
def test_committed_svg_is_up_to_date(module):
    path = diagrams.ROOT / module.PATH
    assert path.exists(), f"{module.PATH} is missing: run `make diagrams`"
    assert path.read_text() == diagrams.render(module), \
        f"{module.PATH} is out of date: run `make diagrams` and commit it"
