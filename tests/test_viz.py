"""lstm_core.viz.player: frames drawn once, embedded, nothing fetched."""
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lstm_core.viz import player  # noqa: E402


def _figure():
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
    (line,) = ax.plot([], [])
    ax.set_xlim(0, 1)
    ax.set_ylim(-1, 1)
    x = np.linspace(0, 1, 20)
    return fig, lambda k: line.set_data(x, np.sin(2 * np.pi * (x + 0.1 * k)))


def test_player_embeds_every_frame_and_fetches_nothing():
    fig, draw = _figure()
    html = player(fig, draw, 3, alt="A sine wave moving right").data
    assert html.count("data:image/png;base64,") == 3
    assert 'class="anim-slider"' in html
    assert "://" not in html
    assert not plt.fignum_exists(fig.number)          # closed: no extra still image


@pytest.mark.parametrize("kwargs, message", [
    ({"n_frames": 0}, "n_frames must be a positive int, got 0"),
    ({"n_frames": 2.0}, "n_frames must be a positive int, got 2.0"),
    ({"n_frames": 2, "fps": 0}, "fps must be a finite number in \\(0, inf\\), got 0.0"),
])
def test_player_rejects_bad_arguments(kwargs, message):
    fig, draw = _figure()
    with pytest.raises(ValueError, match=message):
        player(fig, draw, alt="a wave", **kwargs)
    plt.close(fig)


def test_player_needs_a_draw_function():
    fig, _ = _figure()
    with pytest.raises(TypeError, match="draw must be a function"):
        player(fig, None, 2, alt="a wave")
    plt.close(fig)


def test_player_is_accessible():
    """Alt text on the picture, a named slider, the frames described in text."""
    fig, draw = _figure()
    html = player(fig, draw, 2, alt='A sine wave moving right, "fast"',
                  frames=["phase 0", "phase 0.1 <late>"]).data
    assert re.search(r'<img id="_anim_img\w+" alt="A sine wave moving right, '
                     r'&quot;fast&quot;">', html)
    assert re.search(r'<input id="_anim_slider\w+" type="range" aria-label="Frame"',
                     html)
    assert "<li>phase 0</li><li>phase 0.1 &lt;late&gt;</li>" in html
    assert "Frames described in text" in html


@pytest.mark.parametrize("kwargs, message", [
    ({"alt": ""}, "alt must be a non-empty description"),
    ({"alt": "figures/wave.png"}, "alt must describe what the animation shows"),
    ({"alt": "../../_images/a32e.png"}, "alt must describe"),
    ({"alt": None}, "alt must be a non-empty description"),
    ({"alt": "a wave", "frames": ["one"]}, "frames must be a list of n_frames=2"),
    ({"alt": "a wave", "frames": "ab"}, "frames must be a list of n_frames=2"),
    ({"alt": "a wave", "frames": ["one", " "]}, "frames\\[1\\] must be a non-empty"),
])
def test_player_refuses_missing_or_useless_descriptions(kwargs, message):
    fig, draw = _figure()
    with pytest.raises(ValueError, match=message):
        player(fig, draw, 2, **kwargs)
    plt.close(fig)


def test_player_needs_alt_text():
    fig, draw = _figure()
    with pytest.raises(TypeError, match="alt"):
        player(fig, draw, 2)
    plt.close(fig)
