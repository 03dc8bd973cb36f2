"""Initials portraits: the colour a story without a photo is shown in.

A story without a photo is shown as the person's initials on a colour of
their own: the same colour for a name everywhere (kiosk, intranet, the
submission form's preview), and always legible.
"""

from __future__ import annotations

import functools
import hashlib
import math


def _luminance(hex_colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio between two #rrggbb colours, from 1 to 21."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _oklch_hex(lightness: float, chroma: float, hue: float) -> str | None:
    """An OKLCH colour as #rrggbb, or None when it is outside sRGB."""
    a, b = chroma * math.cos(math.radians(hue)), chroma * math.sin(math.radians(hue))
    l_ = (lightness + 0.3963377774 * a + 0.2158037573 * b) ** 3
    m_ = (lightness - 0.1055613458 * a - 0.0638541728 * b) ** 3
    s_ = (lightness - 0.0894841775 * a - 1.2914855480 * b) ** 3
    linear = (
        4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
        -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
        -0.0041960863 * l_ - 0.7034186147 * m_ + 1.7076147010 * s_,
    )
    if any(not -1e-4 <= c <= 1 + 1e-4 for c in linear):
        return None
    encoded = (
        12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
        for c in (min(max(c, 0.0), 1.0) for c in linear)
    )
    return "#" + "".join(f"{round(c * 255):02x}" for c in encoded)


PORTRAIT_TEXT = "#ffffff"
_MIN_CONTRAST = 4.6  # WCAG AA asks 4.5 for normal text; a little margin for rounding
_MURKY_HUES = (75, 135)  # OKLCH hue degrees never used for a portrait


def portrait_colors(name: str) -> tuple[str, str]:
    """A background and text colour for an initials portrait, the same for a name every time.

    The hue comes from a hash of the name; lightness and chroma are fixed in
    OKLCH, a perceptual colour space, so every portrait has the same visual
    weight: a deep, moderately saturated colour, never neon, never muddy
    (no olive or khaki), and dark enough that white initials keep a
    contrast of at least 4.5:1.
    """
    key = " ".join(name.split()).casefold().encode()
    hue = int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") % 300
    if hue >= _MURKY_HUES[0]:  # skip olive and khaki: at this lightness they look muddy
        hue += _MURKY_HUES[1] - _MURKY_HUES[0]
    return _colours_for_hue(hue)


# Per hue, not per name: 300 hues, where a wall has thousands of names and
# each colour takes a tenth of a millisecond to find.
@functools.cache
def _colours_for_hue(hue: int) -> tuple[str, str]:
    lightness, chroma = 0.50, 0.11
    while True:
        colour = _oklch_hex(lightness, chroma, hue)
        if colour is None:  # outside sRGB at this hue: a little less saturated
            chroma -= 0.005
            continue
        if contrast_ratio(PORTRAIT_TEXT, colour) >= _MIN_CONTRAST:
            return colour, PORTRAIT_TEXT
        lightness -= 0.01  # never reached with these settings; a guard if they change
