"""Initials portraits: a colour of the name's own, always legible."""

from __future__ import annotations

import random

from wall.portraits import portrait_colors


def wcag_contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_portrait_colours_are_legible_for_every_name() -> None:
    rng = random.Random(4)
    letters = "abcdefghijklmnopqrstuvwxyzåøéüçñ"
    names = ["Maria Alvarez", "Dev Patel", "李小龙", "Zoë Ødegaard", "", "A"] + [
        " ".join(
            "".join(rng.choice(letters) for _ in range(rng.randint(2, 10))).title()
            for _ in range(rng.randint(1, 3))
        )
        for _ in range(5000)
    ]
    for name in names:
        background, text = portrait_colors(name)
        assert wcag_contrast(text, background) >= 4.5, (name, background, text)


def test_portrait_colours_are_the_same_for_a_name_every_time() -> None:
    assert portrait_colors("Maria Alvarez") == portrait_colors(" maria  ALVAREZ ")
    colours = {portrait_colors(f"Person {n}")[0] for n in range(200)}
    assert len(colours) > 100, "different people get different colours"
    assert portrait_colors("Maria Alvarez") != portrait_colors("Dev Patel")
