"""Figures that move in the built book without a kernel.

`player(fig, draw, n_frames)` turns a matplotlib figure and a function that draws
frame k into matplotlib's `to_jshtml` player: every frame is a PNG inside the page
and a few lines of JavaScript swap them, so the slider and buttons work in the
static HTML book, in nbviewer and in a notebook, with no kernel behind them.
"""
import re

_CDN_LINK = re.compile(r'<link rel="stylesheet"\s+href="https://[^"]+">')


def player(fig, draw, n_frames, fps=2):
    """An IPython HTML player of frames 0..n_frames-1; draw(k) updates fig to frame k.

    The figure is closed, so the notebook shows the player and no extra still
    image. matplotlib's player loads its button icons (Font Awesome) from a CDN;
    the book must read offline and its theme ships the same icons, so that one
    link is removed and nothing in the player fetches anything.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation

    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
    if not callable(draw):
        raise TypeError(f"draw must be a function of the frame number, got "
                        f"{type(draw).__name__}")
    from . import validate as V
    V.number("fps", fps, low=0, low_open=True)
    from matplotlib.figure import Figure
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    anim = animation.FuncAnimation(fig, draw, frames=n_frames)
    html = anim.to_jshtml(fps=fps, default_mode="once")
    plt.close(fig)
    html, n_links = _CDN_LINK.subn("", html)
    if n_links != 1 or "://" in html:
        raise RuntimeError("matplotlib's player changed: expected exactly one CDN "
                           f"stylesheet link, found {n_links}; the player would not "
                           "read offline")
    return HTML(html)
