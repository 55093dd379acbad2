"""The embedded Reber grammar as a graph, drawn from `lstm_core.data.REBER`.

A string is a walk from the left node to the right one, writing the symbol of
each edge taken (where two edges leave a node, each with probability 1/2). The
embedded grammar (Cleeremans et al. 1989; Hochreiter & Schmidhuber 1997, Fig. 4)
writes B, then T or P, then a whole Reber string (Reber 1967) in one of two
identical copies of the inner graph, then the same T or P again, then E.
The two copies are drawn from the same table, so the figure shows that the inner
string says nothing about which branch was taken.
"""
import numpy as np

from lstm_core import data

PATH = "chapters/foundations/figures/reber_grammar.svg"

INK = "#1a1a1a"
BRANCH = {"T": "#1f5fa8", "P": "#b8461b"}       # dark blue, dark orange on white
# positions of the inner graph's nodes (data.REBER numbering), before shifting
INNER = {0: (0, 0), 1: (1, 0), 2: (2.1, 0.75), 3: (2.1, -0.75),
         4: (3.6, 0.75), 5: (3.6, -0.75), 6: (4.7, 0), 7: (5.7, 0)}
SHIFT_X, SHIFT_Y = 2.2, 2.2                      # the copies sit above and below
LOOP_UP = {2: 1, 3: -1}                          # self-loops drawn above / below


def _arrow(ax, a, b, label, colour=INK, bend=0.0):
    ax.annotate("", xy=b, xytext=a, arrowprops=dict(
        arrowstyle="-|>", color=colour, lw=1.2, shrinkA=9, shrinkB=9,
        connectionstyle=f"arc3,rad={bend}"))
    mid = (np.array(a) + np.array(b)) / 2
    normal = np.array([a[1] - b[1], b[0] - a[0]])
    mid = mid - np.sign(bend or 1) * (0.24 + 0.5 * abs(bend)) * normal \
        / np.hypot(*normal)
    ax.text(*mid, label, ha="center", va="center", fontsize=11,
            fontweight="bold", color=colour)


def _self_loop(ax, xy, label, up, colour):
    x, y = xy
    ax.annotate("", xy=(x + 0.09, y + 0.1 * up), xytext=(x - 0.09, y + 0.1 * up),
                arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.2,
                                connectionstyle=f"arc3,rad={-3 * up}"))
    ax.text(x, y + 0.62 * up, label, ha="center", va="center", fontsize=11,
            fontweight="bold", color=colour)


def _node(ax, xy, text="", colour=INK):
    import matplotlib.pyplot as plt

    ax.add_patch(plt.Circle(xy, 0.12, fc="white", ec=colour, lw=1.2, zorder=3))
    ax.text(*xy, text, ha="center", va="center", fontsize=7, color=colour,
            zorder=4)


def _inner_copy(ax, dy, colour):
    """One copy of data.REBER, its nodes shifted right and up by dy; returns the
    positions of its first and last node."""
    pos = {n: (x + SHIFT_X, 0.8 * y + dy) for n, (x, y) in INNER.items()}
    for n, edges in data.REBER.items():
        _node(ax, pos[n], str(n), colour)
        for symbol, m in edges:
            if m == n:
                _self_loop(ax, pos[n], symbol, LOOP_UP[n], colour)
            else:
                _arrow(ax, pos[n], pos[m], symbol, colour)
    return pos[0], pos[7]


def draw():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10.5, 5.2))
    start, fork = (0.0, 0.0), (1.0, 0.0)
    join, end = (SHIFT_X + 6.9, 0.0), (SHIFT_X + 7.9, 0.0)
    for xy, text in ((start, "start"), (end, "end")):
        _node(ax, xy)
        ax.text(xy[0], xy[1] - 0.3, text, ha="center", va="top", fontsize=8)
    _node(ax, fork)
    _node(ax, join)
    _arrow(ax, start, fork, "B")
    _arrow(ax, join, end, "E")
    for symbol, dy in (("T", SHIFT_Y), ("P", -SHIFT_Y)):
        colour = BRANCH[symbol]
        first, last = _inner_copy(ax, dy, colour)
        _arrow(ax, fork, first, symbol, colour)
        _arrow(ax, last, join, symbol, colour)
        ax.text(SHIFT_X + 2.85, dy + np.sign(dy) * 1.6,
                f"Reber grammar after {symbol}", ha="center", va="center",
                fontsize=9, color=colour)
        ax.add_patch(plt.Rectangle((SHIFT_X - 0.3, dy - 1.4), 6.3, 2.8,
                                   fc="none", ec=colour, lw=0.8, ls="--"))
    ax.text(SHIFT_X + 2.85, 0, "the same inner graph (data.REBER) in both copies",
            ha="center", va="center", fontsize=8, style="italic")
    ax.set_aspect("equal")
    ax.set_xlim(-0.4, end[0] + 0.4)
    ax.set_ylim(-SHIFT_Y - 1.8, SHIFT_Y + 1.8)
    ax.axis("off")
    return fig
