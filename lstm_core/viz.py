"""Figures that move in the built book without a kernel.

`player(fig, draw, n_frames, alt=...)` turns a matplotlib figure and a function
that draws frame k into matplotlib's `to_jshtml` player: every frame is a PNG inside
the page and a few lines of JavaScript swap them, so the slider and buttons work in
the static HTML book, in nbviewer and in a notebook, with no kernel behind them.
The player is accessible (WCAG 2.1 AA, checked by axe-core in the browser test):
its picture has alt text, its slider a name, and `frames=` adds a text description
of every frame below it.

`use_book_style()` sets matplotlib's colour cycle to the colour-blind-safe
palette of lstm_core.palette (Okabe & Ito), each colour paired with its own line
style, so that lines differ by style as well as by colour. `COLORS` names the
palette's colours for plots that pick one.
"""
import html as _html
import re

from .palette import COLORS, CYCLE, LINESTYLES

_CDN_LINK = re.compile(r'<link rel="stylesheet"\s+href="https://[^"]+">')


_IMG = re.compile(r'<img id="(_anim_img[0-9a-f]+)">')
_SLIDER = re.compile(r'<input id="(_anim_slider[0-9a-f]+)" type="range"')


def use_book_style():
    """Make the book's palette and line styles matplotlib's default cycle.

    Line k of an axes gets colour COLORS[CYCLE[k]] and line style LINESTYLES[k]
    (solid, dashed, dash-dot, dotted, ...); images default to viridis, whose
    lightness rises steadily, so it reads in grey and to colour-blind readers.
    """
    import matplotlib as mpl
    from matplotlib import cycler        # re-exported by matplotlib
    mpl.rcParams["axes.prop_cycle"] = (cycler(color=[COLORS[n] for n in CYCLE])
                                       + cycler(linestyle=LINESTYLES))
    mpl.rcParams["image.cmap"] = "viridis"


def player(fig, draw, n_frames, fps=2, *, alt, frames=None):
    """An IPython HTML player of frames 0..n_frames-1; draw(k) updates fig to frame k.

    alt: what the animation shows, as a sighted reader would take it in (a
    sentence or two: the picture's alt text, the same for every frame).
    frames: optional list of n_frames strings, one per frame, shown as a
    collapsed "Frames described in text" list under the player.

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
    alt = _text("alt", alt)
    if frames is not None:
        if isinstance(frames, str) or not hasattr(frames, "__len__") \
                or len(frames) != n_frames:
            raise ValueError(f"frames must be a list of n_frames={n_frames} strings, "
                             f"got {V.describe(frames)}")
        frames = [_text(f"frames[{k}]", f) for k, f in enumerate(frames)]
    anim = animation.FuncAnimation(fig, draw, frames=n_frames)
    html = anim.to_jshtml(fps=fps, default_mode="once")
    plt.close(fig)
    html, n_links = _CDN_LINK.subn("", html)
    if n_links != 1 or "://" in html:
        raise RuntimeError("matplotlib's player changed: expected exactly one CDN "
                           f"stylesheet link, found {n_links}; the player would not "
                           "read offline")
    return HTML(_accessible(html, alt, frames))


def _text(name, value):
    """A non-empty description, not a file name or path."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty description of what the "
                         f"animation shows, got {value!r}")
    if re.fullmatch(r"\S+\.(png|svg|gif|jpe?g)|\S*/\S*", value.strip()):
        raise ValueError(f"{name} must describe what the animation shows, not name "
                         f"a file, got {value!r}")
    return value.strip()


def _accessible(html, alt, frames):
    """matplotlib's player with alt text, a named slider and the frames in text."""
    html, n_img = _IMG.subn(lambda m: f'<img id="{m[1]}" alt="{_html.escape(alt)}">',
                            html)
    html, n_slider = _SLIDER.subn(
        lambda m: f'<input id="{m[1]}" type="range" aria-label="Frame"', html)
    if n_img != 1 or n_slider != 1:
        raise RuntimeError("matplotlib's player changed: expected one frame image and "
                           f"one slider, found {n_img} and {n_slider}")
    if frames:
        items = "".join(f"<li>{_html.escape(f)}</li>" for f in frames)
        html += ('<details class="anim-frames"><summary>Frames described in text'
                 f'</summary><ol>{items}</ol></details>')
    return html
