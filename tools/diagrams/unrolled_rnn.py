"""The tanh RNN unrolled over four steps, with its forward and backward flow.

Symbols are those of `lstm_core.numpy_lstm` and `torch.nn.RNN`: h_t = tanh(W_ih
x_t + W_hh h_{t-1} + b), readout y_t = W_hy h_t + b_y, loss terms l_t(y_t).
Forward arrows (dark) carry the states; backward arrows (orange, dashed) carry the
errors dL/dh_t, each step back multiplied by the transposed Jacobian
(diag(1 - h_t^2) W_hh)^T (Werbos 1990, "Backpropagation through time: what it does
and how to do it"). Drawn on an opaque white panel so that it reads the same in the
book's light and dark modes.
"""
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

PATH = "chapters/foundations/figures/unrolled_rnn.svg"

INK = "#1a1a1a"
BACK = "#c05a00"          # the backward (error) flow
STATE_FILL = "#e9eef6"
IO_FILL = "#f6f6f6"
LOSS_FILL = "#fbeee2"
X_STEP = (2.2, 5.0, 7.8, 10.6)       # columns of steps t-2 .. t+1
Y_X, Y_H, Y_Y, Y_L = 0.7, 2.6, 4.4, 6.0
LABELS = ("t-2", "t-1", "t", "t+1")


def _box(ax, x, y, text, fill, w=1.3, h=0.75):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                boxstyle="round,pad=0.04,rounding_size=0.15",
                                fc=fill, ec=INK, lw=1.2, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=11, zorder=4)


def _arrow(ax, start, end, color=INK, ls="-", rad=0.0, lw=1.3):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11,
                                 color=color, lw=lw, ls=ls, zorder=2,
                                 connectionstyle=f"arc3,rad={rad}"))


def draw():
    fig, ax = plt.subplots(figsize=(8.4, 4.6))
    ax.set_xlim(-0.3, 12.6)
    ax.set_ylim(-1.0, 6.6)
    ax.set_aspect("equal")
    ax.axis("off")
    for x, lab in zip(X_STEP, LABELS):
        sub = lab
        _box(ax, x, Y_X, rf"$x_{{{sub}}}$", IO_FILL)
        _box(ax, x, Y_H, rf"$h_{{{sub}}}$", STATE_FILL)
        _box(ax, x, Y_Y, rf"$y_{{{sub}}}$", IO_FILL)
        _box(ax, x, Y_L, rf"$\ell_{{{sub}}}$", LOSS_FILL, w=1.1, h=0.65)
        _arrow(ax, (x - 0.15, Y_X + 0.4), (x - 0.15, Y_H - 0.4))
        ax.text(x - 0.25, (Y_X + Y_H) / 2, r"$W_{ih}$", ha="right", va="center",
                fontsize=9)
        _arrow(ax, (x - 0.15, Y_H + 0.4), (x - 0.15, Y_Y - 0.4))
        ax.text(x - 0.25, (Y_H + Y_Y) / 2, r"$W_{hy}$", ha="right", va="center",
                fontsize=9)
        _arrow(ax, (x - 0.15, Y_Y + 0.4), (x - 0.15, Y_L - 0.35))
        # backward: the loss's error comes down into h (dashed, orange)
        _arrow(ax, (x + 0.2, Y_L - 0.35), (x + 0.2, Y_H + 0.4), BACK, "--")
    ax.text(X_STEP[-1] + 0.35, (Y_H + Y_L) / 2 + 0.6,
            r"$W_{hy}^{\top}\,\partial\ell_t/\partial y_t$", color=BACK,
            fontsize=9, ha="left", va="center")
    # forward in time: h_{t-1} -> h_t through W_hh (above the axis)
    for k, (x0, x1) in enumerate(zip((X_STEP[0] - 2.4,) + X_STEP[:-1], X_STEP)):
        start = (x0 + 0.65, Y_H + 0.15) if k else (x0 + 0.9, Y_H + 0.15)
        _arrow(ax, start, (x1 - 0.65, Y_H + 0.15))
        ax.text((x0 + x1) / 2 + (0.1 if k else -0.2), Y_H + 0.22, r"$W_{hh}$",
                ha="center", va="bottom", fontsize=9)
    ax.text(X_STEP[0] - 2.2, Y_H + 0.15, r"$h_0 \cdots$", ha="left",
            va="center", fontsize=10)
    _arrow(ax, (X_STEP[-1] + 0.65, Y_H + 0.15), (X_STEP[-1] + 1.7, Y_H + 0.15))
    # backward in time: dL/dh_t -> dL/dh_{t-1} (below, dashed, orange)
    for x0, x1 in zip(X_STEP[1:], X_STEP[:-1]):
        _arrow(ax, (x0 - 0.65, Y_H - 0.2), (x1 + 0.65, Y_H - 0.2), BACK, "--")
    ax.text((X_STEP[1] + X_STEP[2]) / 2, Y_H - 0.5,
            r"$\left(\mathrm{diag}(1-h_t^2)\,W_{hh}\right)^{\top}$",
            color=BACK, ha="center", va="top", fontsize=9)
    ax.text(6.3, -0.25, "solid: forward pass, the states from left to right",
            fontsize=9, color=INK, ha="center")
    ax.text(6.3, -0.7, r"dashed: backward pass, the errors $\partial L/\partial h_t$"
            " from right to left", fontsize=9, color=BACK, ha="center")
    fig.tight_layout()
    return fig
