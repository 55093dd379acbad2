"""The book's palette stays readable for colour-blind readers (issue 19)."""
import itertools

import matplotlib
import numpy as np
import pytest

from lstm_core import palette as P

matplotlib.use("Agg")
MIN_DELTA_E = 15          # CIE76; about 2.3 is just noticeable, 15 clearly apart
SIGHT = [None, *sorted(P.MACHADO)]


def _seen(color, kind):
    return P.to_rgb(color) if kind is None else P.simulate(color, kind)


@pytest.mark.parametrize("kind", SIGHT)
def test_every_pair_of_the_cycle_stays_apart(kind):
    for a, b in itertools.combinations(P.CYCLE, 2):
        d = P.delta_e(_seen(P.COLORS[a], kind), _seen(P.COLORS[b], kind))
        assert d >= MIN_DELTA_E, f"{a} and {b} seen with {kind}: delta E {d:.1f}"


def test_the_check_catches_red_against_green():
    red, green = "#D62728", "#2CA02C"          # matplotlib's tab:red, tab:green
    assert P.delta_e(P.to_rgb(red), P.to_rgb(green)) > 50        # apart to most
    d = P.delta_e(P.simulate(red, "deuteranopia"), P.simulate(green, "deuteranopia"))
    assert d < MIN_DELTA_E                                       # not with deuteranopia


def test_simulation_keeps_greys_and_white():
    for grey in ("#000000", "#808080", "#FFFFFF"):
        for kind in P.MACHADO:
            np.testing.assert_allclose(P.simulate(grey, kind), P.to_rgb(grey),
                                       atol=0.01)


def test_bad_colour_and_kind_are_named():
    with pytest.raises(ValueError, match="color must be a '#RRGGBB'"):
        P.to_rgb("red")
    with pytest.raises(ValueError, match="kind must be one of"):
        P.simulate("#000000", "monochromacy")


def test_book_style_pairs_each_colour_with_its_own_line_style():
    import matplotlib.pyplot as plt

    from lstm_core import viz
    with matplotlib.rc_context():
        viz.use_book_style()
        fig, ax = plt.subplots()
        lines = [ax.plot([0, 1], [k, k])[0] for k in range(len(P.CYCLE))]
        colours = [ln.get_color().lower() for ln in lines]
        dashes = [str(ln._unscaled_dash_pattern) for ln in lines]   # (offset, seq)
        plt.close(fig)
    assert colours == [P.COLORS[n].lower() for n in P.CYCLE]
    assert len(set(dashes)) == len(P.CYCLE)                  # no two lines alike
    assert len(P.LINESTYLES) == len(P.CYCLE)
    assert "yellow" not in P.CYCLE       # too little contrast on white for a line
