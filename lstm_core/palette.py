"""The book's colours, chosen to stay apart for colour-blind readers.

COLORS is the palette of Okabe & Ito (2008), "Color Universal Design": eight
colours that people with any of the three common colour-vision deficiencies can
tell apart. CYCLE is the order the book's plots use (yellow is left out: on a
white background it has too little contrast for a line), paired with LINESTYLES
so that two lines differ by style as well as by colour (WCAG 2.1, 1.4.1 "Use of
Color": colour is never the only cue).

`simulate(rgb, kind)` shows a colour as a reader with protanopia, deuteranopia
or tritanopia sees it, with the severity-1 matrices of Machado, Oliveira &
Fernandes (2009), "A physiologically-based model for simulation of color vision
deficiency", applied in linear RGB; `delta_e(a, b)` is the CIE 1976 colour
difference of two sRGB colours. tests/test_palette.py uses them to check that
every pair of CYCLE stays distinguishable under each deficiency, and that the
check fails on the red/green pair it is meant to catch.
"""
import numpy as np

COLORS = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
CYCLE = ["blue", "vermillion", "bluish green", "reddish purple", "orange",
         "sky blue", "black"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)),
              (0, (1, 3))]

MACHADO = {                                   # severity 1.0, linear RGB -> RGB
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def to_rgb(color):
    """'#RRGGBB' -> sRGB array (3,) in [0, 1]."""
    if not (isinstance(color, str) and len(color) == 7 and color[0] == "#"):
        raise ValueError(f"color must be a '#RRGGBB' string, got {color!r}")
    return np.array([int(color[k:k + 2], 16) for k in (1, 3, 5)]) / 255.0


def _linear(srgb):
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _srgb(lin):
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate(color, kind):
    """sRGB (3,) of `color` as seen with `kind` (a key of MACHADO)."""
    if kind not in MACHADO:
        raise ValueError(f"kind must be one of {sorted(MACHADO)}, got {kind!r}")
    return _srgb(MACHADO[kind] @ _linear(to_rgb(color)))


def _lab(srgb):
    xyz = np.array([[0.4124, 0.3576, 0.1805],
                    [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ _linear(srgb)
    t = xyz / np.array([0.95047, 1.0, 1.08883])                  # D65 white
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b):
    """CIE 1976 difference of two sRGB arrays (3,): about 2.3 is just noticeable."""
    return float(np.linalg.norm(_lab(np.asarray(a)) - _lab(np.asarray(b))))
