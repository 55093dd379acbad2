"""lstm_core.viz.player: frames drawn once, embedded, nothing fetched."""
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
    html = player(fig, draw, 3).data
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
        player(fig, draw, **kwargs)
    plt.close(fig)


def test_player_needs_a_draw_function():
    fig, _ = _figure()
    with pytest.raises(TypeError, match="draw must be a function"):
        player(fig, None, 2)
    plt.close(fig)
