"""The GRU cell of Cho et al. 2014 in torch.nn.GRU's form, in the book's notation.

Symbols are those of `lstm_core.gru` and `torch.nn.GRU`: gates r, z and the
candidate n with W_ih^(k) x_t + b_ih^(k) + W_hh^(k) h_{t-1} + b_hh^(k); the reset
r_t scales the hidden product of the candidate (after the product, as torch.nn.GRU
does); h_t = (1 - z_t) n_t + z_t h_{t-1}. Drawn like tools/diagrams/lstm_cell.py,
whose helpers it uses, so the two units can be read side by side.
"""
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from .lstm_cell import CAROUSEL, CELL_FILL, GATE_FILL, INK, _arrow, _box, _node

PATH = "chapters/foundations/figures/gru_cell.svg"

Y_H, Y_GATE, Y_BUS, Y_MIX = 5.3, 2.2, 0.95, 3.9      # rows of the drawing
X_GATE = {"z": 3.6, "r": 6.3, "n": 8.9}
GATE_TEXT = {"z": ("z_t", r"\sigma", "update gate"),
             "r": ("r_t", r"\sigma", "reset gate"),
             "n": ("n_t", r"\tanh", "candidate")}


def draw():
    fig, ax = plt.subplots(figsize=(8.6, 5.6))
    ax.set_xlim(-0.6, 13.4)
    ax.set_ylim(-1.35, 6.75)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.add_patch(FancyBboxPatch((1.2, 0.45), 10.3, 5.65,
                                boxstyle="round,pad=0.02,rounding_size=0.3",
                                facecolor=CELL_FILL, edgecolor="#888888",
                                lw=1.0, zorder=0))
    ax.text(11.4, 0.6, "one GRU unit (H of them side by side)", ha="right",
            va="bottom", fontsize=8, color="#555555")

    # The state: h_{t-1} -> x z_t -> + (1 - z_t) n_t -> h_t.
    x_keep, x_plus = X_GATE["z"], X_GATE["n"]
    ax.text(-0.5, Y_H, "$h_{t-1}$", ha="left", va="center", fontsize=12)
    ax.plot([0.35, x_keep - 0.26], [Y_H, Y_H], color=CAROUSEL, lw=3, zorder=2)
    ax.plot([x_keep + 0.26, x_plus - 0.26], [Y_H, Y_H], color=CAROUSEL, lw=3,
            zorder=2)
    _arrow(ax, [(x_plus + 0.26, Y_H), (12.55, Y_H)], color=CAROUSEL, lw=3)
    ax.text(12.65, Y_H, "$h_t$", ha="left", va="center", fontsize=12)
    ax.text(12.65, Y_H - 0.4, "to the readout\nand to every gate\nat $t+1$",
            ha="left", va="top", fontsize=7.5)
    _node(ax, x_keep, Y_H, r"$\times$")
    _node(ax, x_plus, Y_H, "$+$")
    ax.text(6.25, Y_H + 0.22, r"$z_t \odot h_{t-1}$", ha="center",
            va="bottom", fontsize=9)
    ax.text(6.35, 6.3, "the state is the output: no cell state, no output gate",
            ha="center", va="bottom", fontsize=10, color=CAROUSEL)
    ax.text(x_plus + 0.35, Y_H + 0.45,
            r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$", ha="left",
            va="bottom", fontsize=9, color=CAROUSEL)

    # The gates and the candidate, fed by x_t and h_{t-1}.
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
    ax.plot([0.35, X_GATE["n"]], [Y_BUS, Y_BUS], color=INK, lw=1.3)
    ax.text(-0.5, Y_BUS, "$x_t,\\ h_{t-1}$", ha="left", va="center",
            fontsize=12)

    # r_t scales the hidden product inside the candidate.
    _arrow(ax, [(X_GATE["r"] + 0.53, Y_GATE), (X_GATE["n"] - 0.55, Y_GATE)])
    ax.text((X_GATE["r"] + X_GATE["n"]) / 2, Y_GATE + 0.12, "$r_t$",
            ha="center", va="bottom", fontsize=10)

    # z_t keeps h_{t-1}; 1 - z_t lets n_t in.
    _arrow(ax, [(x_keep, Y_GATE + 0.48), (x_keep, Y_H - 0.26)])
    x_one = 5.0
    _arrow(ax, [(x_keep, Y_MIX), (x_one - 0.45, Y_MIX)])
    ax.plot([x_keep], [Y_MIX], "o", color=INK, ms=4, zorder=5)
    _box(ax, x_one, Y_MIX, 0.9, 0.5, "white")
    ax.text(x_one, Y_MIX, r"$1 - z_t$", ha="center", va="center", fontsize=9,
            zorder=5)
    _node(ax, x_plus, Y_MIX, r"$\times$")
    _arrow(ax, [(x_one + 0.45, Y_MIX), (x_plus - 0.26, Y_MIX)])
    _arrow(ax, [(x_plus, Y_GATE + 0.48), (x_plus, Y_MIX - 0.26)])
    _arrow(ax, [(x_plus, Y_MIX + 0.26), (x_plus, Y_H - 0.26)])
    ax.text(x_plus + 0.12, 4.62, r"$(1 - z_t) \odot n_t$", ha="left",
            va="center", fontsize=9)

    # The equations of the boxes.
    ax.text(6.35, -0.05, r"$k \in \{r, z\}$:  $\sigma$ of  "
            r"$W_{ih}^{(k)} x_t + b_{ih}^{(k)} + W_{hh}^{(k)} h_{t-1}"
            r" + b_{hh}^{(k)}$", ha="center", va="top", fontsize=9)
    ax.text(6.35, -0.55, r"$n_t = \tanh(W_{ih}^{(n)} x_t + b_{ih}^{(n)}"
            r" + r_t \odot (W_{hh}^{(n)} h_{t-1} + b_{hh}^{(n)}))$"
            "  (torch.nn.GRU: reset after the product)",
            ha="center", va="top", fontsize=9)
    return fig
