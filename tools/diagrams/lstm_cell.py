"""The LSTM cell: its four gates, the cell state (the constant error carousel)
and the optional peephole connections, in the book's notation.

Symbols are those of `lstm_core.numpy_lstm` and `torch.nn.LSTM`: gates i, f, g,
o with pre-activations W_ih^(k) x_t + W_hh^(k) h_{t-1} + b^(k); c_t = f_t c_{t-1}
+ i_t g_t; h_t = o_t tanh(c_t). Peepholes w_ci, w_cf (from c_{t-1}) and w_co
(from c_t), drawn dashed because they are optional (Gers & Schmidhuber 2000;
Greff et al. 2017, eqs. 1-6); `torch.nn.LSTM` has none.
"""
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

PATH = "chapters/foundations/figures/lstm_cell.svg"

INK = "#1a1a1a"
CAROUSEL = "#1f4e9c"      # the cell state's path
PEEP = "#c05a00"          # optional peepholes
GATE_FILL = "#e9eef6"
CELL_FILL = "#f6f6f6"
Y_C, Y_GATE, Y_BUS, Y_OUT = 5.3, 2.2, 0.95, 3.45   # rows of the drawing
X_GATE = {"f": 3.6, "i": 5.3, "g": 6.9, "o": 10.3}
GATE_TEXT = {"f": ("f_t", r"\sigma", "forget gate"),
             "i": ("i_t", r"\sigma", "input gate"),
             "g": ("g_t", r"\tanh", "cell input"),
             "o": ("o_t", r"\sigma", "output gate")}


def _arrow(ax, points, color=INK, lw=1.3, ls="-", head=True):
    # A polyline through points, with an arrow head at its end.
    for (x0, y0), (x1, y1) in zip(points[:-2], points[1:-1]):
        ax.plot([x0, x1], [y0, y1], color=color, lw=lw, ls=ls,
                solid_capstyle="butt", zorder=2)
    style = "-|>" if head else "-"
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle=style,
                                 mutation_scale=11, color=color, lw=lw,
                                 ls=ls, shrinkA=0, shrinkB=0, zorder=2))


def _node(ax, x, y, symbol, r=0.26):
    # A pointwise operation: a circle with x (product) or + (sum) in it.
    ax.add_patch(Circle((x, y), r, facecolor="white", edgecolor=INK, lw=1.3,
                        zorder=4))
    ax.text(x, y, symbol, ha="center", va="center", fontsize=13, zorder=5)


def _box(ax, x, y, w, h, fill, lw=1.2):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=fill, edgecolor=INK, lw=lw,
                                zorder=3))


def draw():
    fig, ax = plt.subplots(figsize=(8.6, 5.6))
    ax.set_xlim(-0.6, 13.4)
    ax.set_ylim(-1.35, 6.75)
    ax.set_aspect("equal")
    ax.axis("off")

    # The cell.
    ax.add_patch(FancyBboxPatch((1.2, 0.45), 10.3, 5.65,
                                boxstyle="round,pad=0.02,rounding_size=0.3",
                                facecolor=CELL_FILL, edgecolor="#888888",
                                lw=1.0, zorder=0))
    ax.text(11.4, 0.6, "one LSTM unit (H of them side by side)", ha="right",
            va="bottom", fontsize=8, color="#555555")

    # The cell state: c_{t-1} -> x f_t -> + i_t g_t -> c_t.
    x_f, x_plus, x_tanh = X_GATE["f"], 6.1, X_GATE["o"]
    ax.text(-0.5, Y_C, "$c_{t-1}$", ha="left", va="center", fontsize=12)
    ax.plot([0.35, x_f - 0.26], [Y_C, Y_C], color=CAROUSEL, lw=3, zorder=2)
    ax.plot([x_f + 0.26, x_plus - 0.26], [Y_C, Y_C], color=CAROUSEL, lw=3,
            zorder=2)
    _arrow(ax, [(x_plus + 0.26, Y_C), (12.55, Y_C)], color=CAROUSEL, lw=3)
    ax.text(12.65, Y_C, "$c_t$", ha="left", va="center", fontsize=12)
    _node(ax, x_f, Y_C, r"$\times$")
    _node(ax, x_plus, Y_C, "$+$")
    ax.text(4.85, Y_C + 0.22, r"$f_t \odot c_{t-1}$", ha="center",
            va="bottom", fontsize=9)
    ax.text(6.35, 6.3, "cell state: the constant error carousel",
            ha="center", va="bottom", fontsize=10, color=CAROUSEL)
    ax.text(6.5, Y_C + 0.22, r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$",
            ha="left", va="bottom", fontsize=9, color=CAROUSEL)

    # The gates, fed by x_t and h_{t-1}.
    for k, x in X_GATE.items():
        _box(ax, x, Y_GATE, 1.05, 0.95, GATE_FILL)
        name, act, role = GATE_TEXT[k]
        ax.text(x, Y_GATE + 0.16, f"${name}$", ha="center", va="center",
                fontsize=11, zorder=5)
        ax.text(x, Y_GATE - 0.2, f"${act}$", ha="center", va="center",
                fontsize=9, zorder=5)
        ax.text(x, Y_GATE - 0.62, role, ha="center", va="top", fontsize=7.5,
                zorder=5)
        _arrow(ax, [(x, Y_BUS), (x, Y_GATE - 0.95 / 2 - 0.32)])
    ax.plot([0.35, X_GATE["o"]], [Y_BUS, Y_BUS], color=INK, lw=1.3)
    ax.text(-0.5, Y_BUS, "$x_t,\\ h_{t-1}$", ha="left", va="center",
            fontsize=12)
    ax.text(6.35, -0.05, r"gate $k \in \{i, f, g, o\}$:  "
            r"$\sigma$ or $\tanh$ of  "
            r"$W_{ih}^{(k)} x_t + W_{hh}^{(k)} h_{t-1} + b^{(k)}$",
            ha="center", va="top", fontsize=9)

    # f_t multiplies the old state; i_t g_t is added to it.
    _arrow(ax, [(x_f, Y_GATE + 0.48), (x_f, Y_C - 0.26)])
    x_ig, y_ig = x_plus, 3.9
    _node(ax, x_ig, y_ig, r"$\times$")
    _arrow(ax, [(X_GATE["i"], Y_GATE + 0.48), (X_GATE["i"], y_ig),
                (x_ig - 0.26, y_ig)])
    _arrow(ax, [(X_GATE["g"], Y_GATE + 0.48), (X_GATE["g"], y_ig),
                (x_ig + 0.26, y_ig)])
    _arrow(ax, [(x_ig, y_ig + 0.26), (x_plus, Y_C - 0.26)])
    ax.text(x_ig + 0.12, 4.62, r"$i_t \odot g_t$", ha="left", va="center",
            fontsize=9)

    # h_t = o_t tanh(c_t).
    _arrow(ax, [(x_tanh, Y_C), (x_tanh, 4.73)])
    _box(ax, x_tanh, 4.45, 0.85, 0.5, "white")
    ax.text(x_tanh, 4.45, r"$\tanh$", ha="center", va="center", fontsize=9,
            zorder=5)
    _arrow(ax, [(x_tanh, 4.2), (x_tanh, Y_OUT + 0.26)])
    _node(ax, x_tanh, Y_OUT, r"$\times$")
    _arrow(ax, [(x_tanh, Y_GATE + 0.48), (x_tanh, Y_OUT - 0.26)])
    _arrow(ax, [(x_tanh + 0.26, Y_OUT), (12.55, Y_OUT)])
    ax.text(12.65, Y_OUT, "$h_t$", ha="left", va="center", fontsize=12)
    ax.text(12.65, Y_OUT - 0.4, "to the readout\nand to every gate\nat $t+1$",
            ha="left", va="top", fontsize=7.5)

    # The optional peepholes: c_{t-1} to i and f, c_t to o.
    x_tap = 1.75                                  # w_cf: c_{t-1} to f
    ax.plot([x_tap], [Y_C], "o", color=PEEP, ms=4, zorder=5)
    _arrow(ax, [(x_tap, Y_C), (x_tap, Y_GATE), (X_GATE["f"] - 0.55, Y_GATE)],
           color=PEEP, lw=1.4, ls=(0, (4, 2.5)))
    ax.text(x_tap - 0.1, 3.6, "$w_{cf}$", ha="right", va="center",
            fontsize=10, color=PEEP)
    x_tap, y_turn, x_turn = 2.45, 3.1, 4.45       # w_ci: c_{t-1} to i
    ax.plot([x_tap], [Y_C], "o", color=PEEP, ms=4, zorder=5)
    _arrow(ax, [(x_tap, Y_C), (x_tap, y_turn), (x_turn, y_turn),
                (x_turn, Y_GATE), (X_GATE["i"] - 0.55, Y_GATE)],
           color=PEEP, lw=1.4, ls=(0, (4, 2.5)))
    ax.text(x_tap + 0.1, 4.1, "$w_{ci}$", ha="left", va="center",
            fontsize=10, color=PEEP)
    x_tap = 9.15
    ax.plot([x_tap], [Y_C], "o", color=PEEP, ms=4, zorder=5)
    _arrow(ax, [(x_tap, Y_C), (x_tap, Y_GATE), (X_GATE["o"] - 0.55, Y_GATE)],
           color=PEEP, lw=1.4, ls=(0, (4, 2.5)))
    ax.text(x_tap - 0.1, 3.0, "$w_{co}$", ha="right", va="center",
            fontsize=10, color=PEEP)

    # Legend.
    ax.plot([0.2, 1.0], [-0.85, -0.85], color=PEEP, lw=1.4, ls=(0, (4, 2.5)))
    ax.text(1.15, -0.85, "optional peepholes (vectors, one weight per unit): "
            "$i_t$ and $f_t$ also see $c_{t-1}$, $o_t$ sees $c_t$; "
            "torch.nn.LSTM has none", ha="left", va="center", fontsize=8)
    ax.plot([0.2, 1.0], [-1.2, -1.2], color=CAROUSEL, lw=3)
    ax.text(1.15, -1.2, "the cell state $c_t$; the 1997 LSTM has no forget "
            "gate ($f_t = 1$), so its cell state is only added to", ha="left", va="center",
            fontsize=8)
    return fig
