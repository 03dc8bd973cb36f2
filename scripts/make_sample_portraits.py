#!/usr/bin/env python3
"""Generate the illustrated sample portraits for the Story Wall sample stories.

Each sample person gets a flat-vector style head-and-shoulders drawing,
written as a 1600x2000 (4:5) JPEG beside the story's index.md, e.g.
``stories/maria-alvarez/maria.jpg``.

The drawings are fully deterministic (no randomness, no timestamps, no EXIF):
running the script twice produces byte-identical files.  Everything is drawn
at SCALE x the final size and downscaled with LANCZOS for smooth edges.

The face is centred at roughly (0.5, 0.35) of the image, which is the
``photo_focus`` used in the sample stories' front matter.

Usage (only needs Pillow):

    python scripts/make_sample_portraits.py            # writes into ./stories
    python scripts/make_sample_portraits.py --out DIR  # writes into DIR/<slug>/
    python scripts/make_sample_portraits.py --only maria-alvarez
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

W, H = 1600, 2000  # final size (portrait 4:5)
SCALE = 2  # supersampling factor
JPEG_QUALITY = 88

# Face geometry in final-image pixels.  The face (eyes/nose) sits at
# (0.5, 0.35) of the image: x = 800, y = 700.
CX = W * 0.5
FACE_Y = H * 0.35

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------
# Palette helpers
# ---------------------------------------------------------------------------

SKIN = {
    "porcelain": "#f6d7c3",
    "light": "#f1c7a5",
    "warm": "#e0a97e",
    "tan": "#c98d62",
    "olive": "#b98358",
    "brown": "#9a6440",
    "deep": "#6f4529",
    "ebony": "#553320",
}

HAIR = {
    "black": "#1f1a1c",
    "dark_brown": "#3b2519",
    "brown": "#6a4027",
    "auburn": "#8e3b22",
    "blonde": "#d9b26a",
    "grey": "#a9a6a3",
    "silver": "#cfcdca",
    "salt_pepper": "#5a5450",
}


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def shade(color: str | tuple, factor: float) -> tuple[int, int, int]:
    """factor < 1 darkens, > 1 lightens (towards white)."""
    r, g, b = hex_rgb(color) if isinstance(color, str) else color[:3]
    if factor <= 1:
        return (round(r * factor), round(g * factor), round(b * factor))
    t = factor - 1
    return (round(r + (255 - r) * t), round(g + (255 - g) * t), round(b + (255 - b) * t))


def mix(a, b, t: float) -> tuple[int, int, int]:
    a = hex_rgb(a) if isinstance(a, str) else a
    b = hex_rgb(b) if isinstance(b, str) else b
    return tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))  # type: ignore[return-value]


def rgba(color, alpha: int) -> tuple[int, int, int, int]:
    c = hex_rgb(color) if isinstance(color, str) else color[:3]
    return (c[0], c[1], c[2], alpha)


# ---------------------------------------------------------------------------
# Geometry helpers (all inputs in final-image pixels; scaled when drawing)
# ---------------------------------------------------------------------------


def s(v: float) -> float:
    return v * SCALE


def pts(points):
    return [(s(x), s(y)) for x, y in points]


def box(x0, y0, x1, y1):
    return [s(x0), s(y0), s(x1), s(y1)]


def bezier(p0, p1, p2, p3, n=40):
    out = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        x = u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0]
        y = u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]
        out.append((x, y))
    return out


def path(*segments):
    """Join bezier segments (each a list of points) into one polygon list."""
    out = []
    for seg in segments:
        if out and seg and out[-1] == seg[0]:
            seg = seg[1:]
        out.extend(seg)
    return out


def head_outline(cx, cy, rx, ry, jaw=0.28, n=160):
    """Egg-shaped head: full width at the top, narrowing towards the chin."""
    out = []
    for i in range(n):
        t = 2 * math.pi * i / n
        st, ct = math.sin(t), math.cos(t)
        k = 1.0
        if st > 0:  # lower half: taper towards the chin
            k = 1 - jaw * st**2.2
        out.append((cx + rx * ct * k, cy + ry * st))
    return out


def ellipse_pts(cx, cy, rx, ry, a0=0.0, a1=360.0, n=90):
    out = []
    for i in range(n + 1):
        a = math.radians(a0 + (a1 - a0) * i / n)
        out.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return out


def soften(lay: Image.Image, radius: float) -> Image.Image:
    """Gaussian blur in premultiplied alpha (avoids dark fringes at edges)."""
    return lay.convert("RGBa").filter(ImageFilter.GaussianBlur(s(radius))).convert("RGBA")


def mirror(points, cx=CX):
    return [(2 * cx - x, y) for x, y in points]


# ---------------------------------------------------------------------------
# Layered canvas
# ---------------------------------------------------------------------------


class Canvas:
    def __init__(self):
        self.img = Image.new("RGBA", (W * SCALE, H * SCALE), (0, 0, 0, 255))

    def layer(self):
        lay = Image.new("RGBA", self.img.size, (0, 0, 0, 0))
        return lay, ImageDraw.Draw(lay)

    def paste(self, lay, blur: float = 0.0):
        if blur:
            lay = soften(lay, blur)
        self.img = Image.alpha_composite(self.img, lay)

    def paste_clipped(self, lay, mask_lay):
        """Composite `lay` only where `mask_lay` is opaque (alpha clip)."""
        alpha = ImageChops.multiply(lay.getchannel("A"), mask_lay.getchannel("A"))
        lay = lay.copy()
        lay.putalpha(alpha)
        self.img = Image.alpha_composite(self.img, lay)


def polygon_layer(canvas: Canvas, points, fill):
    lay, d = canvas.layer()
    d.polygon(pts(points), fill=fill)
    return lay


# ---------------------------------------------------------------------------
# Drawing: background
# ---------------------------------------------------------------------------


def draw_background(cv: Canvas, spec):
    top, bottom = spec["bg"]
    w, h = cv.img.size
    # vertical gradient, built as a 1px column and resized (fast, deterministic)
    col = Image.new("RGB", (1, 256))
    for y in range(256):
        col.putpixel((0, y), mix(top, bottom, y / 255))
    grad = col.resize((w, h), Image.BILINEAR).convert("RGBA")
    cv.img = grad

    # soft decorative shapes
    lay, d = cv.layer()
    accent = spec.get("bg_accent", shade(top, 1.25))
    shape = spec.get("bg_shape", "circles")
    if shape == "circles":
        d.ellipse(box(CX - 620, FACE_Y - 560, CX + 620, FACE_Y + 680), fill=rgba(accent, 120))
        d.ellipse(box(1180, 120, 1700, 640), fill=rgba(shade(accent, 1.2), 110))
        d.ellipse(box(-160, 1080, 380, 1620), fill=rgba(shade(bottom, 0.9), 90))
    elif shape == "arch":
        d.rounded_rectangle(
            box(CX - 560, FACE_Y - 520, CX + 560, H + 200), radius=s(560), fill=rgba(accent, 130)
        )
        d.ellipse(box(60, 140, 300, 380), fill=rgba(shade(accent, 1.25), 120))
    elif shape == "blobs":
        blob = path(
            bezier(
                (CX - 650, FACE_Y),
                (CX - 700, FACE_Y - 520),
                (CX + 200, FACE_Y - 720),
                (CX + 560, FACE_Y - 300),
            ),
            bezier(
                (CX + 560, FACE_Y - 300),
                (CX + 820, FACE_Y + 20),
                (CX + 560, FACE_Y + 700),
                (CX + 60, FACE_Y + 640),
            ),
            bezier(
                (CX + 60, FACE_Y + 640),
                (CX - 420, FACE_Y + 600),
                (CX - 600, FACE_Y + 420),
                (CX - 650, FACE_Y),
            ),
        )
        d.polygon(pts(blob), fill=rgba(accent, 125))
        d.ellipse(box(1220, 1120, 1620, 1520), fill=rgba(shade(accent, 1.2), 110))
    elif shape == "stripes":
        for i, x in enumerate(range(-400, 2000, 260)):
            poly = [(x, 0), (x + 120, 0), (x + 120 + 900, H), (x + 900, H)]
            d.polygon(pts(poly), fill=rgba(accent, 55 if i % 2 else 35))
        d.ellipse(box(CX - 560, FACE_Y - 520, CX + 560, FACE_Y + 600), fill=rgba(accent, 110))
    cv.paste(lay, blur=2)

    # gentle glow behind the head
    lay, d = cv.layer()
    d.ellipse(box(CX - 380, FACE_Y - 420, CX + 380, FACE_Y + 300), fill=(255, 255, 255, 22))
    cv.paste(lay, blur=120)


# ---------------------------------------------------------------------------
# Drawing: body and clothing
# ---------------------------------------------------------------------------

NECKLINE = FACE_Y + 390  # y of the collar / neckline centre
SHOULDER_Y = FACE_Y + 560  # where the shoulder line levels out


def torso_outline(width=1.0):
    """Shoulders/torso polygon (left-right symmetric)."""
    nx = 120  # half width of neck base
    sx = 600 * width  # half width at shoulders
    y0 = NECKLINE + 10  # where clothing meets the neck at the sides
    left = path(
        bezier(
            (CX - nx - 20, y0),
            (CX - nx - 150, y0 + 70),
            (CX - sx + 60, SHOULDER_Y - 40),
            (CX - sx, SHOULDER_Y + 80),
        ),
        bezier(
            (CX - sx, SHOULDER_Y + 80),
            (CX - sx - 60, SHOULDER_Y + 200),
            (CX - sx - 80, H - 200),
            (CX - sx - 90, H + 40),
        ),
    )
    right = list(reversed(mirror(left)))
    return left + right


def draw_neck(cv: Canvas, spec):
    skin = SKIN[spec["skin"]]
    lay, d = cv.layer()
    neck = [
        (CX - 118, FACE_Y + 150),
        (CX + 118, FACE_Y + 150),
        (CX + 128, FACE_Y + 560),
        (CX - 128, FACE_Y + 560),
    ]
    d.polygon(pts(neck), fill=rgba(skin, 255))
    cv.paste(lay)
    # shadow cast by the jaw onto the neck: the head outline, shifted down
    lay = polygon_layer(cv, [(x, y + 55) for x, y in head_poly(spec)], rgba(shade(skin, 0.8), 255))
    mask = polygon_layer(cv, neck, (0, 0, 0, 255))
    cv.paste_clipped(soften(lay, 18), mask)


def draw_clothes(cv: Canvas, spec):
    c = spec["clothes"]
    kind = c["style"]
    main = c["color"]
    skin = SKIN[spec["skin"]]
    torso = torso_outline(c.get("width", 1.0))
    body = polygon_layer(cv, torso, rgba(main, 255))

    # neckline opening shows skin (V-neck / open collar)
    lay, d = cv.layer()
    y0 = NECKLINE
    if kind in ("vneck", "scrubs", "blazer", "cardigan", "open_collar"):
        depth = {"vneck": 260, "scrubs": 230, "blazer": 300, "cardigan": 280, "open_collar": 220}[
            kind
        ]
        d.polygon(
            pts([(CX - 135, y0 - 10), (CX + 135, y0 - 10), (CX, y0 + depth)]), fill=rgba(skin, 255)
        )
    cv.paste(body)
    cv.paste(lay)

    lay, d = cv.layer()
    dark = shade(main, 0.8)
    light = shade(main, 1.15)
    trim = c.get("trim", shade(main, 0.7))

    if kind == "tshirt":
        d.chord(box(CX - 150, y0 - 70, CX + 150, y0 + 90), 0, 180, fill=rgba(dark, 255))
        d.chord(box(CX - 128, y0 - 70, CX + 128, y0 + 66), 0, 180, fill=rgba(skin, 255))
    elif kind == "hoodie":
        hood = path(
            bezier(
                (CX - 330, y0 + 90), (CX - 300, y0 - 60), (CX - 170, y0 - 40), (CX - 120, y0 - 10)
            ),
            bezier(
                (CX - 120, y0 - 10), (CX - 60, y0 + 90), (CX + 60, y0 + 90), (CX + 120, y0 - 10)
            ),
            bezier(
                (CX + 120, y0 - 10), (CX + 170, y0 - 40), (CX + 300, y0 - 60), (CX + 330, y0 + 90)
            ),
            bezier(
                (CX + 330, y0 + 90), (CX + 250, y0 + 230), (CX - 250, y0 + 230), (CX - 330, y0 + 90)
            ),
        )
        d.polygon(pts(hood), fill=rgba(dark, 255))
        d.chord(box(CX - 125, y0 - 80, CX + 125, y0 + 70), 0, 180, fill=rgba(skin, 255))
        for side in (-1, 1):
            d.line(
                pts([(CX + side * 60, y0 + 150), (CX + side * 70, y0 + 420)]),
                fill=rgba(light, 255),
                width=round(s(14)),
            )
            d.ellipse(
                box(CX + side * 70 - 14, y0 + 410, CX + side * 70 + 14, y0 + 438),
                fill=rgba(light, 255),
            )
    elif kind in ("collar", "open_collar"):
        collar_c = c.get("collar", shade(main, 1.25))
        for side in (-1, 1):
            flap = [
                (CX + side * 130, y0 - 40),
                (CX + side * 20, y0 + (120 if kind == "collar" else 200)),
                (CX + side * 200, y0 + 130),
                (CX + side * 170, y0 - 30),
            ]
            d.polygon(pts(flap), fill=rgba(collar_c, 255))
            d.line(pts(flap + [flap[0]]), fill=rgba(shade(collar_c, 0.8), 255), width=round(s(4)))
        if kind == "collar":
            d.line(pts([(CX, y0 + 120), (CX, H)]), fill=rgba(dark, 255), width=round(s(5)))
            for by in range(int(y0 + 230), H, 190):
                d.ellipse(box(CX - 12, by, CX + 12, by + 24), fill=rgba(shade(main, 1.35), 255))
        if c.get("tie"):
            tie = c["tie"]
            d.polygon(
                pts(
                    [
                        (CX - 30, y0 + 110),
                        (CX + 30, y0 + 110),
                        (CX + 18, y0 + 160),
                        (CX - 18, y0 + 160),
                    ]
                ),
                fill=rgba(shade(tie, 0.85), 255),
            )
            d.polygon(
                pts(
                    [
                        (CX - 18, y0 + 160),
                        (CX + 18, y0 + 160),
                        (CX + 55, y0 + 560),
                        (CX, y0 + 630),
                        (CX - 55, y0 + 560),
                    ]
                ),
                fill=rgba(tie, 255),
            )
    elif kind in ("blazer", "cardigan"):
        inner = c.get("inner", "#f4f1ea")
        # shirt under the jacket
        d.polygon(
            pts([(CX - 150, y0 - 10), (CX + 150, y0 - 10), (CX + 170, H), (CX - 170, H)]),
            fill=rgba(inner, 255),
        )
        d.polygon(
            pts([(CX - 135, y0 - 10), (CX + 135, y0 - 10), (CX, y0 + 170)]), fill=rgba(skin, 255)
        )
        if kind == "blazer":
            # shirt collar
            for side in (-1, 1):
                d.polygon(
                    pts(
                        [
                            (CX + side * 140, y0 - 30),
                            (CX + side * 10, y0 + 170),
                            (CX + side * 150, y0 + 110),
                        ]
                    ),
                    fill=rgba(shade(inner, 0.94), 255),
                )
            if c.get("tie"):
                tie = c["tie"]
                d.polygon(
                    pts(
                        [
                            (CX - 26, y0 + 150),
                            (CX + 26, y0 + 150),
                            (CX + 16, y0 + 195),
                            (CX - 16, y0 + 195),
                        ]
                    ),
                    fill=rgba(shade(tie, 0.85), 255),
                )
                d.polygon(
                    pts(
                        [
                            (CX - 16, y0 + 195),
                            (CX + 16, y0 + 195),
                            (CX + 50, y0 + 600),
                            (CX, y0 + 660),
                            (CX - 50, y0 + 600),
                        ]
                    ),
                    fill=rgba(tie, 255),
                )
            for side in (-1, 1):
                lapel = [
                    (CX + side * 150, y0 - 20),
                    (CX + side * 300, y0 + 190),
                    (CX + side * 230, y0 + 240),
                    (CX + side * 300, y0 + 300),
                    (CX + side * 40, H - 420),
                    (CX + side * 20, H + 10),
                    (CX + side * 700, H + 10),
                    (CX + side * 700, y0),
                ]
                d.polygon(pts(lapel), fill=rgba(main, 255))
                d.line(pts(lapel[:5]), fill=rgba(dark, 255), width=round(s(6)), joint="curve")
            if c.get("pin"):
                d.ellipse(box(CX - 300, y0 + 420, CX - 250, y0 + 470), fill=rgba(c["pin"], 255))
        else:
            for side in (-1, 1):
                panel = [
                    (CX + side * 150, y0 - 15),
                    (CX + side * 55, y0 + 420),
                    (CX + side * 55, H + 10),
                    (CX + side * 700, H + 10),
                    (CX + side * 700, y0),
                ]
                d.polygon(pts(panel), fill=rgba(main, 255))
                d.line(pts(panel[:3]), fill=rgba(dark, 255), width=round(s(10)), joint="curve")
            for by in range(int(y0 + 470), H, 170):
                d.ellipse(
                    box(CX - 85, by, CX - 53, by + 32), fill=rgba(c.get("buttons", light), 255)
                )
    elif kind == "vest":
        # hi-vis safety vest over a work shirt
        shirt = c.get("inner", "#3d4a5c")
        vest = c.get("vest", "#f47b20")
        stripe = "#dfe3e6"
        d.chord(
            box(CX - 150, y0 - 70, CX + 150, y0 + 90), 0, 180, fill=rgba(shade(shirt, 0.8), 255)
        )
        d.chord(box(CX - 128, y0 - 70, CX + 128, y0 + 66), 0, 180, fill=rgba(skin, 255))
        for side in (-1, 1):
            panel = [
                (CX + side * 175, y0 + 20),
                (CX + side * 95, y0 + 330),
                (CX + side * 95, H + 10),
                (CX + side * 520, H + 10),
                (CX + side * 470, y0 + 380),
                (CX + side * 330, y0 + 40),
            ]
            d.polygon(pts(panel), fill=rgba(vest, 255))
            d.line(pts(panel[:3]), fill=rgba(shade(vest, 0.8), 255), width=round(s(8)))
            for sy in (y0 + 560, y0 + 800):
                strip = [
                    (CX + side * 95, sy),
                    (CX + side * 505, sy),
                    (CX + side * 510, sy + 56),
                    (CX + side * 95, sy + 56),
                ]
                d.polygon(pts(strip), fill=rgba(stripe, 255))
            # stripes over the shoulders
            d.line(
                pts([(CX + side * 250, y0 + 40), (CX + side * 215, y0 + 560)]),
                fill=rgba(stripe, 255),
                width=round(s(48)),
            )
    elif kind in ("vneck", "scrubs"):
        d.line(
            pts(
                [
                    (CX - 135, y0 - 10),
                    (CX, y0 + (260 if kind == "vneck" else 230)),
                    (CX + 135, y0 - 10),
                ]
            ),
            fill=rgba(trim, 255),
            width=round(s(16)),
            joint="curve",
        )
        if kind == "scrubs":
            d.rectangle(box(CX + 170, y0 + 420, CX + 340, y0 + 440), fill=rgba(dark, 255))
            d.rectangle(
                box(CX + 170, y0 + 440, CX + 340, y0 + 620), fill=rgba(shade(main, 0.92), 255)
            )
            d.rectangle(box(CX + 210, y0 + 360, CX + 226, y0 + 470), fill=rgba("#2b3a55", 255))

    mask = body
    cv.paste_clipped(lay, mask)

    # soft shading at the body sides (gives a little volume)
    lay, d = cv.layer()
    d.rectangle(box(0, 0, CX - 470, H), fill=(0, 0, 0, 40))
    d.rectangle(box(CX + 470, 0, W, H), fill=(0, 0, 0, 40))
    cv.paste_clipped(soften(lay, 60), mask)

    # accessories on the body
    lay, d = cv.layer()
    if c.get("lanyard"):
        col = c["lanyard"]
        d.line(
            pts([(CX - 150, y0 - 5), (CX - 40, y0 + 520)]), fill=rgba(col, 255), width=round(s(22))
        )
        d.line(
            pts([(CX + 150, y0 - 5), (CX + 40, y0 + 520)]), fill=rgba(col, 255), width=round(s(22))
        )
        d.rounded_rectangle(
            box(CX - 95, y0 + 510, CX + 95, y0 + 760),
            radius=s(16),
            fill=(250, 250, 250, 255),
            outline=rgba(shade(col, 0.7), 255),
            width=round(s(5)),
        )
        d.rectangle(box(CX - 95 + 5, y0 + 515, CX + 95 - 5, y0 + 575), fill=rgba(col, 255))
        d.ellipse(box(CX - 40, y0 + 595, CX + 40, y0 + 675), fill=rgba(shade(col, 1.5), 255))
        d.rounded_rectangle(
            box(CX - 60, y0 + 695, CX + 60, y0 + 715), radius=s(8), fill=(200, 200, 205, 255)
        )
    if c.get("name_badge"):
        col = c["name_badge"]
        d.rounded_rectangle(
            box(CX + 230, y0 + 330, CX + 430, y0 + 420), radius=s(12), fill=rgba(col, 255)
        )
        d.rounded_rectangle(
            box(CX + 255, y0 + 360, CX + 405, y0 + 378), radius=s(8), fill=(255, 255, 255, 200)
        )
    if c.get("pocket_pens"):
        d.rectangle(box(CX - 360, y0 + 360, CX - 190, y0 + 380), fill=rgba(dark, 255))
        d.rectangle(box(CX - 330, y0 + 300, CX - 316, y0 + 400), fill=rgba("#2a4d8f", 255))
        d.rectangle(box(CX - 295, y0 + 315, CX - 281, y0 + 400), fill=rgba("#c0392b", 255))
    if c.get("patch"):
        d.ellipse(
            box(CX - 380, y0 + 340, CX - 220, y0 + 440),
            fill=rgba(c["patch"], 255),
            outline=(250, 250, 250, 255),
            width=round(s(6)),
        )
    cv.paste(lay)


# ---------------------------------------------------------------------------
# Drawing: head, face and hair
# ---------------------------------------------------------------------------

HEAD_CY = FACE_Y - 40
HEAD_RX = 250
HEAD_RY = 320


def head_poly(spec):
    f = spec.get("face", {})
    return head_outline(CX, HEAD_CY, HEAD_RX * f.get("width", 1.0), HEAD_RY, jaw=f.get("jaw", 0.3))


def hair_color(spec):
    return HAIR.get(spec["hair"]["color"], spec["hair"]["color"])


def draw_back_hair(cv: Canvas, spec):
    """Hair that sits behind the head and neck (long hair, bun, ponytail...)."""
    h = spec["hair"]
    style = h["style"]
    col = hair_color(spec)
    lay, d = cv.layer()
    rx = HEAD_RX * spec.get("face", {}).get("width", 1.0)
    if style in ("long", "long_wavy"):
        length = h.get("length", 560)
        if style == "long":
            shape = path(
                bezier(
                    (CX - rx - 45, HEAD_CY - 40),
                    (CX - rx - 70, HEAD_CY + 200),
                    (CX - rx - 60, HEAD_CY + length - 80),
                    (CX - rx - 10, HEAD_CY + length),
                ),
                bezier(
                    (CX - rx - 10, HEAD_CY + length),
                    (CX - 120, HEAD_CY + length + 50),
                    (CX + 120, HEAD_CY + length + 50),
                    (CX + rx + 10, HEAD_CY + length),
                ),
                bezier(
                    (CX + rx + 10, HEAD_CY + length),
                    (CX + rx + 60, HEAD_CY + length - 80),
                    (CX + rx + 70, HEAD_CY + 200),
                    (CX + rx + 45, HEAD_CY - 40),
                ),
            )
        else:
            left = []
            n = 6
            for i in range(n + 1):
                t = i / n
                y = HEAD_CY - 40 + (length + 40) * t
                wob = 28 * math.sin(t * math.pi * 3)
                left.append((CX - rx - 55 - 30 * math.sin(t * math.pi) + wob, y))
            left = path(
                *[
                    bezier(
                        left[i],
                        (left[i][0] - 30, left[i][1] + 40),
                        (left[i + 1][0] - 30, left[i + 1][1] - 40),
                        left[i + 1],
                        14,
                    )
                    for i in range(n)
                ]
            )
            bottom = bezier(
                left[-1],
                (CX - 150, HEAD_CY + length + 70),
                (CX + 150, HEAD_CY + length + 70),
                (2 * CX - left[-1][0], left[-1][1]),
            )
            shape = left + bottom + list(reversed(mirror(left)))
        shape += [
            (CX + rx * 0.6, HEAD_CY - HEAD_RY * 0.9),
            (CX - rx * 0.6, HEAD_CY - HEAD_RY * 0.9),
        ]
        d.polygon(pts(shape), fill=rgba(shade(col, 0.82), 255))
    elif style == "bob":
        length = h.get("length", 300)
        shape = path(
            bezier(
                (CX - rx - 50, HEAD_CY - 60),
                (CX - rx - 90, HEAD_CY + 100),
                (CX - rx - 70, HEAD_CY + length - 40),
                (CX - rx + 10, HEAD_CY + length),
            ),
            bezier(
                (CX - rx + 10, HEAD_CY + length),
                (CX - 80, HEAD_CY + length + 40),
                (CX + 80, HEAD_CY + length + 40),
                (CX + rx - 10, HEAD_CY + length),
            ),
            bezier(
                (CX + rx - 10, HEAD_CY + length),
                (CX + rx + 70, HEAD_CY + length - 40),
                (CX + rx + 90, HEAD_CY + 100),
                (CX + rx + 50, HEAD_CY - 60),
            ),
        )
        d.polygon(pts(shape), fill=rgba(shade(col, 0.85), 255))
    elif style == "bun":
        d.ellipse(
            box(CX - 125, HEAD_CY - HEAD_RY - 170, CX + 125, HEAD_CY - HEAD_RY + 60),
            fill=rgba(col, 255),
        )
        d.ellipse(
            box(CX - 80, HEAD_CY - HEAD_RY - 130, CX + 30, HEAD_CY - HEAD_RY - 60),
            fill=rgba(shade(col, 1.12), 120),
        )
    elif style == "ponytail":
        tail = path(
            bezier(
                (CX + rx - 40, HEAD_CY - 120),
                (CX + rx + 150, HEAD_CY - 100),
                (CX + rx + 130, HEAD_CY + 240),
                (CX + rx + 60, HEAD_CY + 430),
            ),
            bezier(
                (CX + rx + 60, HEAD_CY + 430),
                (CX + rx + 10, HEAD_CY + 260),
                (CX + rx - 10, HEAD_CY + 60),
                (CX + rx - 60, HEAD_CY - 30),
            ),
        )
        d.polygon(pts(tail), fill=rgba(shade(col, 0.9), 255))
    elif style == "afro":
        r = h.get("size", 400)
        cy = HEAD_CY - 70
        d.ellipse(box(CX - r, cy - r * 0.92, CX + r, cy + r * 0.88), fill=rgba(col, 255))
        # bumpy edge
        for i in range(28):
            a = 2 * math.pi * i / 28
            bx, by = CX + r * 0.97 * math.cos(a), cy + r * 0.9 * math.sin(a)
            d.ellipse(box(bx - 60, by - 60, bx + 60, by + 60), fill=rgba(col, 255))
    elif style == "puff":
        d.ellipse(
            box(CX - 180, HEAD_CY - HEAD_RY - 220, CX + 180, HEAD_CY - HEAD_RY + 80),
            fill=rgba(col, 255),
        )
        for i in range(18):
            a = 2 * math.pi * i / 18
            bx, by = CX + 170 * math.cos(a), HEAD_CY - HEAD_RY - 70 + 145 * math.sin(a)
            d.ellipse(box(bx - 45, by - 45, bx + 45, by + 45), fill=rgba(col, 255))
    cv.paste(lay)


def draw_ears(cv: Canvas, spec):
    skin = SKIN[spec["skin"]]
    rx = HEAD_RX * spec.get("face", {}).get("width", 1.0)
    lay, d = cv.layer()
    for side in (-1, 1):
        ex = CX + side * (rx - 12)
        d.ellipse(box(ex - 48, FACE_Y - 60, ex + 48, FACE_Y + 90), fill=rgba(skin, 255))
        d.ellipse(
            box(ex - 24 + side * 6, FACE_Y - 30, ex + 24 + side * 6, FACE_Y + 60),
            fill=rgba(shade(skin, 0.86), 255),
        )
        if spec.get("earrings"):
            d.ellipse(
                box(ex - 14 + side * 4, FACE_Y + 92, ex + 14 + side * 4, FACE_Y + 120),
                fill=rgba(spec["earrings"], 255),
            )
    cv.paste(lay)


def draw_head(cv: Canvas, spec):
    skin = SKIN[spec["skin"]]
    head = polygon_layer(cv, head_poly(spec), rgba(skin, 255))
    cv.paste(head)
    # subtle shading: darker on one side and under the hairline
    lay, d = cv.layer()
    d.ellipse(
        box(CX + 120, HEAD_CY - 300, CX + 420, HEAD_CY + 360), fill=rgba(shade(skin, 0.8), 80)
    )
    d.ellipse(box(CX - 220, HEAD_CY - 250, CX + 60, HEAD_CY + 20), fill=rgba(shade(skin, 1.18), 90))
    cv.paste_clipped(soften(lay, 45), head)
    return head


def draw_face(cv: Canvas, spec):
    skin = SKIN[spec["skin"]]
    f = spec.get("face", {})
    eye_col = f.get("eyes", "#2a1e1a")
    brow_col = f.get(
        "brows",
        shade(hair_color(spec), 0.85) if spec["hair"]["style"] != "bald" else shade(skin, 0.55),
    )
    age = f.get("age", 0)  # 0 young .. 2 older
    ey = FACE_Y - 5
    ex = 98 * f.get("eye_spacing", 1.0)

    lay, d = cv.layer()
    # cheeks
    blush = f.get("blush", 45)
    for side in (-1, 1):
        d.ellipse(
            box(CX + side * 150 - 62, ey + 95, CX + side * 150 + 62, ey + 165),
            fill=rgba("#e06a5a", blush),
        )
    cv.paste(lay, blur=18)

    lay, d = cv.layer()
    # eyes
    for side in (-1, 1):
        x = CX + side * ex
        if f.get("eye_style") == "smile":
            d.arc(
                box(x - 38, ey - 22, x + 38, ey + 30),
                200,
                340,
                fill=rgba(eye_col, 255),
                width=round(s(11)),
            )
        else:
            d.ellipse(box(x - 25, ey - 29, x + 25, ey + 27), fill=rgba(eye_col, 255))
            d.ellipse(box(x - 2, ey - 19, x + 14, ey - 3), fill=(255, 255, 255, 230))
            if f.get("lashes"):
                d.line(
                    pts([(x + side * 18, ey - 18), (x + side * 34, ey - 30)]),
                    fill=rgba(eye_col, 255),
                    width=round(s(6)),
                )
        # brows
        bw = f.get("brow_width", 12)
        lift = f.get("brow_lift", 0)
        by = ey - 78 - lift
        brow = bezier(
            (x - side * 52, by + 14),
            (x - side * 20, by - 12),
            (x + side * 20, by - 14),
            (x + side * 56, by + 4),
            24,
        )
        d.line(pts(brow), fill=rgba(brow_col, 255), width=round(s(bw)), joint="curve")
        for px, py in (brow[0], brow[-1]):
            d.ellipse(
                box(px - bw / 2, py - bw / 2, px + bw / 2, py + bw / 2), fill=rgba(brow_col, 255)
            )
        if age >= 2:
            # soft smile lines at the outer corner of the eyes
            d.arc(
                box(x + side * 52 - 16, ey - 14, x + side * 52 + 16, ey + 26),
                300 if side > 0 else 120,
                60 if side > 0 else 240,
                fill=rgba(shade(skin, 0.8), 170),
                width=round(s(4)),
            )
    # nose
    nose_col = shade(skin, 0.8)
    ny = FACE_Y + 100
    d.line(
        pts(
            bezier((CX - 8, ey + 20), (CX - 14, ny - 40), (CX - 38, ny - 10), (CX - 24, ny + 6), 20)
        ),
        fill=rgba(nose_col, 255),
        width=round(s(7)),
        joint="curve",
    )
    d.arc(
        box(CX - 34, ny - 24, CX + 34, ny + 18),
        20,
        160,
        fill=rgba(nose_col, 255),
        width=round(s(7)),
    )
    if age >= 2:
        for side in (-1, 1):
            fold = bezier(
                (CX + side * 70, ny + 10),
                (CX + side * 105, ny + 25),
                (CX + side * 118, ny + 60),
                (CX + side * 112, ny + 95),
                20,
            )
            d.line(pts(fold), fill=rgba(shade(skin, 0.82), 170), width=round(s(5)), joint="curve")
    cv.paste(lay)


def draw_mouth(cv: Canvas, spec):
    skin = SKIN[spec["skin"]]
    f = spec.get("face", {})
    my = FACE_Y + 170
    mw = f.get("mouth_width", 78)
    lay, d = cv.layer()
    lip = f.get("lip", mix(shade(skin, 0.72), "#b5484a", 0.35))
    if f.get("smile", "open") == "open":
        # open smile: half-moon with teeth
        mouth = path(
            bezier((CX - mw, my), (CX - mw * 0.5, my + 6), (CX + mw * 0.5, my + 6), (CX + mw, my)),
            bezier(
                (CX + mw, my), (CX + mw * 0.8, my + 88), (CX - mw * 0.8, my + 88), (CX - mw, my)
            ),
        )
        d.polygon(pts(mouth), fill=rgba("#5a2026", 255))
        teeth = path(
            bezier(
                (CX - mw + 8, my + 4),
                (CX - mw * 0.5, my + 9),
                (CX + mw * 0.5, my + 9),
                (CX + mw - 8, my + 4),
            ),
            bezier(
                (CX + mw - 8, my + 4),
                (CX + mw * 0.6, my + 32),
                (CX - mw * 0.6, my + 32),
                (CX - mw + 8, my + 4),
            ),
        )
        d.polygon(pts(teeth), fill=(252, 250, 246, 255))
        tongue = bezier(
            (CX - mw * 0.5, my + 62),
            (CX - mw * 0.2, my + 44),
            (CX + mw * 0.2, my + 44),
            (CX + mw * 0.5, my + 62),
            20,
        )
        d.polygon(pts(tongue + [(CX, my + 70)]), fill=rgba("#d2646a", 255))
        d.line(pts(mouth + [mouth[0]]), fill=rgba(lip, 255), width=round(s(6)), joint="curve")
    else:
        # closed smile: a curved line with little corners
        curve = bezier(
            (CX - mw, my + 6),
            (CX - mw * 0.4, my + 54),
            (CX + mw * 0.4, my + 54),
            (CX + mw, my + 6),
            30,
        )
        d.line(pts(curve), fill=rgba(shade(skin, 0.5), 255), width=round(s(11)), joint="curve")
        for px, py in (curve[0], curve[-1]):
            d.ellipse(box(px - 5.5, py - 5.5, px + 5.5, py + 5.5), fill=rgba(shade(skin, 0.5), 255))
        if f.get("lipstick"):
            d.line(pts(curve), fill=rgba(f["lipstick"], 255), width=round(s(15)), joint="curve")
    cv.paste(lay)


def draw_beard(cv: Canvas, spec):
    b = spec.get("beard")
    if not b:
        return
    col = HAIR.get(b.get("color", spec["hair"]["color"]), b.get("color"))
    rx = HEAD_RX * spec.get("face", {}).get("width", 1.0)
    head = polygon_layer(cv, head_poly(spec), (0, 0, 0, 255))
    lay, d = cv.layer()
    my = FACE_Y + 170
    if b["style"] in ("full", "short"):
        top = FACE_Y + (20 if b["style"] == "full" else 60)
        beard = path(
            bezier(
                (CX - rx - 20, top - 60),
                (CX - rx + 20, my + 60),
                (CX - 160, HEAD_CY + HEAD_RY + 60),
                (CX, HEAD_CY + HEAD_RY + (70 if b["style"] == "full" else 20)),
            ),
            bezier(
                (CX, HEAD_CY + HEAD_RY + (70 if b["style"] == "full" else 20)),
                (CX + 160, HEAD_CY + HEAD_RY + 60),
                (CX + rx - 20, my + 60),
                (CX + rx + 20, top - 60),
            ),
            [(CX + rx + 20, top - 60), (CX + rx - 40, top - 60)],
            bezier(
                (CX + rx - 40, top - 60), (CX + 170, my - 10), (CX + 60, my - 70), (CX, my - 62)
            ),
            bezier(
                (CX, my - 62), (CX - 60, my - 70), (CX - 170, my - 10), (CX - rx + 40, top - 60)
            ),
        )
        # beard area = (beard shape clipped to the head) + a rounded bit under the chin,
        # minus the mouth.  Built as one mask so there are no overlapping seams.
        m_in = Image.new("L", cv.img.size, 0)
        ImageDraw.Draw(m_in).polygon(pts(beard), fill=255)
        m_in = ImageChops.multiply(m_in, head.getchannel("A"))
        drop = 80 if b["style"] == "full" else 28
        chin = HEAD_CY + HEAD_RY
        below = path(
            bezier(
                (CX - 140, chin - 100),
                (CX - 130, chin + 10),
                (CX - 70, chin + drop),
                (CX, chin + drop),
            ),
            bezier(
                (CX, chin + drop),
                (CX + 70, chin + drop),
                (CX + 130, chin + 10),
                (CX + 140, chin - 100),
            ),
        )
        m_below = Image.new("L", cv.img.size, 0)
        ImageDraw.Draw(m_below).polygon(pts(below), fill=255)
        mask = ImageChops.lighter(m_in, m_below)
        ImageDraw.Draw(mask).ellipse(box(CX - 86, my - 6, CX + 86, my + 74), fill=0)
        fill = col if b["style"] == "full" else mix(col, SKIN[spec["skin"]], 0.18)
        solid = Image.new("RGBA", cv.img.size, rgba(fill, 255))
        solid.putalpha(mask)
        cv.paste(solid)
    if b.get("mustache", True) or b["style"] == "mustache":
        lay, d = cv.layer()
        mus = path(
            bezier((CX - 105, my + 18), (CX - 95, my - 40), (CX - 30, my - 48), (CX, my - 28)),
            bezier((CX, my - 28), (CX + 30, my - 48), (CX + 95, my - 40), (CX + 105, my + 18)),
            bezier((CX + 105, my + 18), (CX + 70, my - 6), (CX + 30, my - 6), (CX, my - 2)),
            bezier((CX, my - 2), (CX - 30, my - 6), (CX - 70, my - 6), (CX - 105, my + 18)),
        )
        d.polygon(pts(mus), fill=rgba(shade(col, 0.9), 255))
        cv.paste(lay)


def draw_front_hair(cv: Canvas, spec, head_mask):
    h = spec["hair"]
    style = h["style"]
    col = hair_color(spec)
    hi = shade(col, 1.18)
    rx = HEAD_RX * spec.get("face", {}).get("width", 1.0)
    top = HEAD_CY - HEAD_RY
    lay, d = cv.layer()

    def cap(hairline_y, side_y, part=0.0, volume=30):
        """Hair covering the top of the head down to a hairline."""
        outer = ellipse_pts(CX, HEAD_CY + 10, rx + volume, HEAD_RY + volume, 180, 360, 60)
        outer = [(x, y) for x, y in outer]
        px = CX + part
        line = path(
            bezier(
                (CX + rx + volume, HEAD_CY + 10),
                (CX + rx + 5, side_y),
                (CX + rx - 20, side_y - 10),
                (CX + rx - 45, hairline_y + 40),
            ),
            bezier(
                (CX + rx - 45, hairline_y + 40),
                (CX + 150, hairline_y - 10),
                (px + 60, hairline_y - 40),
                (px, hairline_y - 30),
            ),
            bezier(
                (px, hairline_y - 30),
                (px - 60, hairline_y - 10),
                (CX - 150, hairline_y - 10),
                (CX - rx + 45, hairline_y + 40),
            ),
            bezier(
                (CX - rx + 45, hairline_y + 40),
                (CX - rx + 20, side_y - 10),
                (CX - rx - 5, side_y),
                (CX - rx - volume, HEAD_CY + 10),
            ),
        )
        return outer + line

    if style in (
        "short",
        "side_part",
        "long",
        "long_wavy",
        "bob",
        "ponytail",
        "bun",
        "curly",
        "buzz",
    ):
        if style == "buzz":
            shape = cap(top + 140, FACE_Y - 80, volume=6)
            d.polygon(pts(shape), fill=rgba(col, 200))
        elif style == "curly":
            shape = cap(top + 130, FACE_Y - 60, volume=40)
            d.polygon(pts(shape), fill=rgba(col, 255))
            for i in range(22):
                a = math.pi + math.pi * i / 21
                bx, by = CX + (rx + 25) * math.cos(a), HEAD_CY + 10 + (HEAD_RY + 25) * math.sin(a)
                d.ellipse(box(bx - 48, by - 48, bx + 48, by + 48), fill=rgba(col, 255))
            for i in range(9):
                bx = CX - 200 + i * 50
                by = top + 120 + 22 * math.sin(i * 1.7)
                d.ellipse(box(bx - 44, by - 40, bx + 44, by + 40), fill=rgba(col, 255))
        elif style == "side_part":
            shape = cap(top + 150, FACE_Y - 70, part=-90, volume=38)
            d.polygon(pts(shape), fill=rgba(col, 255))
            # a swoop of hair falling from the parting towards the viewer's right
            sweep = path(
                bezier(
                    (CX - 100, top + 60),
                    (CX - 40, top + 150),
                    (CX + 120, top + 170),
                    (CX + rx - 30, top + 200),
                ),
                [(CX + rx - 30, top + 200), (CX + rx - 70, top + 60), (CX - 60, top + 20)],
            )
            d.polygon(pts(sweep), fill=rgba(col, 255))
            hl = bezier(
                (CX - 70, top + 50),
                (CX + 10, top + 110),
                (CX + 120, top + 120),
                (CX + rx - 60, top + 150),
                24,
            )
            d.line(pts(hl), fill=rgba(hi, 130), width=round(s(12)), joint="curve")
        else:
            fringe = {
                "short": 150,
                "long": 150,
                "long_wavy": 140,
                "bob": 135,
                "ponytail": 150,
                "bun": 160,
            }[style]
            part = h.get(
                "part",
                {"long": 40, "long_wavy": -50, "bob": 0, "ponytail": 30, "bun": 0, "short": 60}[
                    style
                ],
            )
            vol = {"short": 34, "long": 40, "long_wavy": 50, "bob": 50, "ponytail": 28, "bun": 26}[
                style
            ]
            shape = cap(
                top + fringe,
                FACE_Y - (20 if style in ("long", "long_wavy", "bob") else 70),
                part=part,
                volume=vol,
            )
            d.polygon(pts(shape), fill=rgba(col, 255))
            if style == "bob" and h.get("bangs"):
                bangs = path(
                    bezier(
                        (CX - rx + 10, top + 200),
                        (CX - 140, top + 220),
                        (CX + 140, top + 220),
                        (CX + rx - 10, top + 200),
                    ),
                    [(CX + rx - 10, top + 200), (CX + rx, top + 60), (CX - rx, top + 60)],
                )
                d.polygon(pts(bangs), fill=rgba(col, 255))
            if style in ("long", "long_wavy", "bob"):
                # side locks framing the face
                for side in (-1, 1):
                    tip_y = FACE_Y + (230 if style != "bob" else 200)
                    lock = path(
                        bezier(
                            (CX + side * (rx - 60), top + 170),
                            (CX + side * (rx - 15), FACE_Y - 20),
                            (CX + side * (rx - 5), FACE_Y + 140),
                            (CX + side * (rx + 14), tip_y),
                        ),
                        bezier(
                            (CX + side * (rx + 14), tip_y),
                            (CX + side * (rx + 40), FACE_Y + 120),
                            (CX + side * (rx + 34), FACE_Y - 60),
                            (CX + side * (rx + 4), top + 170),
                        ),
                    )
                    d.polygon(pts(lock), fill=rgba(col, 255))
            # highlight strand
            hl = ellipse_pts(CX, HEAD_CY + 10, rx - 20, HEAD_RY - 10, 262, 318, 30)
            d.line(pts(hl), fill=rgba(hi, 120), width=round(s(14)), joint="curve")
            if style == "bun":
                d.line(
                    pts(
                        bezier(
                            (CX - 150, top + 60),
                            (CX - 60, top - 10),
                            (CX + 60, top - 10),
                            (CX + 150, top + 60),
                            20,
                        )
                    ),
                    fill=rgba(shade(col, 0.8), 200),
                    width=round(s(6)),
                    joint="curve",
                )
    elif style == "afro" or style == "puff":
        if style == "puff":
            shape = cap(top + 115, FACE_Y - 90, volume=24)
            d.polygon(pts(shape), fill=rgba(col, 255))
            band = ellipse_pts(CX, HEAD_CY + 10, rx + 12, HEAD_RY + 12, 236, 304, 40)
            d.line(
                pts(band),
                fill=rgba(h.get("band", "#e8a33c"), 255),
                width=round(s(34)),
                joint="curve",
            )
        else:
            r = h.get("size", 400)
            hairline = path(
                bezier(
                    (CX - rx - 10, FACE_Y - 40),
                    (CX - rx + 10, top + 150),
                    (CX - 130, top + 120),
                    (CX, top + 125),
                ),
                bezier(
                    (CX, top + 125),
                    (CX + 130, top + 120),
                    (CX + rx - 10, top + 150),
                    (CX + rx + 10, FACE_Y - 40),
                ),
            )
            shape = hairline + [
                (CX + r, FACE_Y - 40),
                (CX + r, top - 200),
                (CX - r, top - 200),
                (CX - r, FACE_Y - 40),
            ]
            lay_clip, dc = cv.layer()
            dc.polygon(pts(shape), fill=rgba(col, 255))
            mask, dm = cv.layer()
            cy = HEAD_CY - 70
            dm.ellipse(
                box(CX - r - 70, cy - r * 0.92 - 70, CX + r + 70, cy + r * 0.88),
                fill=(0, 0, 0, 255),
            )
            cv.paste_clipped(lay_clip, mask)
    elif style == "bald":
        # a little shine, and optional fringe at the sides
        d.ellipse(box(CX - 120, top + 40, CX + 20, top + 110), fill=(255, 255, 255, 45))
        if h.get("sides", True):
            for side in (-1, 1):
                side_hair = path(
                    bezier(
                        (CX + side * (rx + 12), FACE_Y - 20),
                        (CX + side * (rx + 20), FACE_Y - 120),
                        (CX + side * (rx - 10), FACE_Y - 200),
                        (CX + side * (rx - 50), FACE_Y - 240),
                    ),
                    bezier(
                        (CX + side * (rx - 50), FACE_Y - 240),
                        (CX + side * (rx - 20), FACE_Y - 150),
                        (CX + side * (rx - 30), FACE_Y - 80),
                        (CX + side * (rx - 30), FACE_Y - 20),
                    ),
                )
                d.polygon(pts(side_hair), fill=rgba(col, 255))
    cv.paste(lay)


def draw_glasses(cv: Canvas, spec):
    g = spec.get("glasses")
    if not g:
        return
    col = g.get("color", "#2b2b2b")
    ey = FACE_Y - 5
    ex = 98 * spec.get("face", {}).get("eye_spacing", 1.0)
    rx = HEAD_RX * spec.get("face", {}).get("width", 1.0)
    lay, d = cv.layer()
    w = round(s(g.get("weight", 11)))
    for side in (-1, 1):
        x = CX + side * ex
        if g.get("shape", "round") == "round":
            d.ellipse(box(x - 68, ey - 58, x + 68, ey + 58), fill=(255, 255, 255, 22))
            d.ellipse(box(x - 68, ey - 58, x + 68, ey + 58), outline=rgba(col, 255), width=w)
        else:
            d.rounded_rectangle(
                box(x - 74, ey - 50, x + 74, ey + 52), radius=s(22), fill=(255, 255, 255, 22)
            )
            d.rounded_rectangle(
                box(x - 74, ey - 50, x + 74, ey + 52), radius=s(22), outline=rgba(col, 255), width=w
            )
        d.line(
            pts([(x + side * 70, ey - 18), (CX + side * (rx - 8), ey - 26)]),
            fill=rgba(col, 255),
            width=w,
        )
    d.arc(box(CX - ex + 62, ey - 40, CX + ex - 62, ey + 10), 200, 340, fill=rgba(col, 255), width=w)
    cv.paste(lay)


def draw_headwear(cv: Canvas, spec):
    hw = spec.get("headwear")
    if not hw:
        return
    rx = HEAD_RX * spec.get("face", {}).get("width", 1.0)
    top = HEAD_CY - HEAD_RY
    lay, d = cv.layer()
    kind = hw["style"]
    col = hw.get("color", "#f2b705")
    if kind == "hard_hat":
        dome = ellipse_pts(CX, top + 170, rx + 40, 250, 180, 360, 80)
        d.polygon(pts(dome), fill=rgba(col, 255))
        # ridge and highlight
        d.polygon(
            pts(
                [
                    (CX - 40, top - 78),
                    (CX + 40, top - 78),
                    (CX + 46, top + 170),
                    (CX - 46, top + 170),
                ]
            ),
            fill=rgba(shade(col, 1.12), 255),
        )
        d.arc(
            box(CX - rx + 10, top - 40, CX + rx - 10, top + 380),
            200,
            250,
            fill=(255, 255, 255, 110),
            width=round(s(22)),
        )
        # brim
        d.rounded_rectangle(
            box(CX - rx - 95, top + 150, CX + rx + 95, top + 205),
            radius=s(26),
            fill=rgba(shade(col, 0.86), 255),
        )
        d.rounded_rectangle(
            box(CX - rx - 95, top + 150, CX + rx + 95, top + 168),
            radius=s(9),
            fill=rgba(shade(col, 1.08), 255),
        )
        if hw.get("sticker"):
            d.rounded_rectangle(
                box(CX + 90, top + 40, CX + 190, top + 110),
                radius=s(10),
                fill=rgba(hw["sticker"], 255),
            )
            d.line(
                pts([(CX + 110, top + 75), (CX + 170, top + 75)]),
                fill=(255, 255, 255, 255),
                width=round(s(8)),
            )
    elif kind == "beanie":
        dome = ellipse_pts(CX, top + 175, rx + 38, 240, 180, 360, 80)
        d.polygon(pts(dome), fill=rgba(col, 255))
        for i in range(-6, 7):
            d.line(
                pts(
                    [(CX + i * 38, top + 70 - 40 * math.cos(i / 6 * 1.4)), (CX + i * 38, top + 175)]
                ),
                fill=rgba(shade(col, 0.85), 255),
                width=round(s(6)),
            )
        d.rounded_rectangle(
            box(CX - rx - 40, top + 130, CX + rx + 40, top + 240),
            radius=s(40),
            fill=rgba(shade(col, 0.9), 255),
        )
        for i in range(-7, 8):
            d.line(
                pts([(CX + i * 36, top + 140), (CX + i * 36, top + 230)]),
                fill=rgba(shade(col, 0.78), 255),
                width=round(s(6)),
            )
    elif kind == "cap":
        dome = ellipse_pts(CX, top + 170, rx + 30, 230, 180, 360, 80)
        d.polygon(pts(dome), fill=rgba(col, 255))
        d.polygon(
            pts(
                bezier(
                    (CX - rx + 20, top + 170),
                    (CX - 120, top + 250),
                    (CX + 120, top + 250),
                    (CX + rx - 20, top + 170),
                    30,
                )
                + [(CX, top + 160)]
            ),
            fill=rgba(shade(col, 0.8), 255),
        )
        d.ellipse(box(CX - 24, top - 72, CX + 24, top - 50), fill=rgba(shade(col, 0.8), 255))
        if hw.get("logo"):
            d.ellipse(box(CX - 60, top + 40, CX + 60, top + 130), fill=rgba(hw["logo"], 255))
    elif kind == "headset":
        band = ellipse_pts(CX, HEAD_CY + 10, rx + 46, HEAD_RY + 40, 185, 355, 60)
        d.line(pts(band), fill=rgba(col, 255), width=round(s(30)), joint="curve")
        d.line(pts(band), fill=rgba(shade(col, 1.3), 255), width=round(s(8)), joint="curve")
        for side in (-1, 1):
            x = CX + side * (rx + 10)
            d.rounded_rectangle(
                box(x - 50, FACE_Y - 90, x + 50, FACE_Y + 80), radius=s(40), fill=rgba(col, 255)
            )
            d.rounded_rectangle(
                box(x - 30 - side * 12, FACE_Y - 60, x + 30 - side * 12, FACE_Y + 50),
                radius=s(28),
                fill=rgba(shade(col, 1.35), 255),
            )
        # mic boom on the left (viewer's left)
        x = CX - rx - 10
        boom = bezier(
            (x + 20, FACE_Y + 40),
            (x + 10, FACE_Y + 170),
            (CX - 190, FACE_Y + 215),
            (CX - 140, FACE_Y + 205),
            30,
        )
        d.line(pts(boom), fill=rgba(col, 255), width=round(s(14)), joint="curve")
        d.rounded_rectangle(
            box(CX - 165, FACE_Y + 185, CX - 105, FACE_Y + 227),
            radius=s(20),
            fill=rgba(shade(col, 1.2), 255),
        )
    cv.paste(lay)


# ---------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------


def render(spec) -> Image.Image:
    cv = Canvas()
    draw_background(cv, spec)
    draw_back_hair(cv, spec)
    draw_neck(cv, spec)
    draw_clothes(cv, spec)
    draw_ears(cv, spec)
    head = draw_head(cv, spec)
    draw_face(cv, spec)
    draw_beard(cv, spec)
    draw_mouth(cv, spec)
    draw_front_hair(cv, spec, head)
    draw_glasses(cv, spec)
    draw_headwear(cv, spec)
    img = cv.img.convert("RGB").resize((W, H), Image.LANCZOS)
    return img


# ---------------------------------------------------------------------------
# The sample people
# ---------------------------------------------------------------------------

PEOPLE = [
    {
        "slug": "maria-alvarez",
        "file": "maria.jpg",
        "bg": ("#f3c98b", "#d9774a"),
        "bg_shape": "circles",
        "bg_accent": "#f8dcae",
        "skin": "tan",
        "hair": {"style": "ponytail", "color": "dark_brown"},
        "face": {"jaw": 0.3, "brow_width": 13, "lashes": True, "age": 1},
        "clothes": {"style": "vest", "color": "#2f4058", "inner": "#2f4058", "vest": "#f26b1d"},
        "headwear": {"style": "hard_hat", "color": "#f5c518", "sticker": "#1f6fb2"},
        "earrings": "#e9c46a",
    },
    {
        "slug": "dev-patel",
        "file": "dev.jpg",
        "bg": ("#cfe3f2", "#6f9cc6"),
        "bg_shape": "arch",
        "bg_accent": "#e6f1f9",
        "skin": "brown",
        "hair": {"style": "side_part", "color": "black"},
        "face": {"jaw": 0.26, "brow_width": 15, "smile": "open"},
        "clothes": {
            "style": "cardigan",
            "color": "#3e5a7a",
            "inner": "#f2efe6",
            "lanyard": "#1b7f79",
        },
        "glasses": {"shape": "rect", "color": "#1d1d1f"},
        "beard": {"style": "short", "color": "black", "mustache": True},
    },
    {
        "slug": "grace-okafor",
        "file": "grace.jpg",
        "bg": ("#d9d2f0", "#8a79c4"),
        "bg_shape": "blobs",
        "bg_accent": "#ece6fb",
        "skin": "deep",
        "hair": {"style": "puff", "color": "black", "band": "#f0a43a"},
        "face": {
            "jaw": 0.3,
            "lashes": True,
            "brow_width": 12,
            "lipstick": "#9c2f45",
            "smile": "closed",
            "blush": 40,
        },
        "clothes": {"style": "blazer", "color": "#23395b", "inner": "#f6e7c8"},
        "glasses": {"shape": "round", "color": "#b5651d", "weight": 9},
        "earrings": "#f0c75e",
    },
    {
        "slug": "tommy-nguyen",
        "file": "tommy.jpg",
        "bg": ("#c7e8d4", "#4f9a78"),
        "bg_shape": "stripes",
        "bg_accent": "#e1f4e8",
        "skin": "light",
        "hair": {"style": "short", "color": "black"},
        "face": {"jaw": 0.32, "brow_width": 14, "eye_style": "smile"},
        "clothes": {"style": "vest", "color": "#5b6b73", "inner": "#5b6b73", "vest": "#c6e82c"},
        "headwear": {"style": "beanie", "color": "#c0392b"},
    },
    {
        "slug": "aaliyah-brooks",
        "file": "aaliyah.jpg",
        "bg": ("#ffe0c2", "#f28f6b"),
        "bg_shape": "blobs",
        "bg_accent": "#fff0e0",
        "skin": "brown",
        "hair": {"style": "long_wavy", "color": "dark_brown", "length": 620},
        "face": {"jaw": 0.32, "lashes": True, "brow_width": 11},
        "clothes": {"style": "hoodie", "color": "#2a7f62", "lanyard": "#1e4e9c"},
        "earrings": "#f2f2f2",
    },
    {
        "slug": "linda-sorensen",
        "file": "linda.jpg",
        "bg": ("#f4e7b8", "#c9a94f"),
        "bg_shape": "circles",
        "bg_accent": "#fbf1cf",
        "skin": "porcelain",
        "hair": {"style": "bob", "color": "silver", "length": 270, "bangs": False},
        "face": {
            "jaw": 0.3,
            "age": 2,
            "brow_width": 10,
            "smile": "closed",
            "lipstick": "#c2566b",
            "eye_style": "smile",
        },
        "clothes": {
            "style": "cardigan",
            "color": "#7a3e48",
            "inner": "#e9e4d4",
            "buttons": "#f0e6cf",
        },
        "glasses": {"shape": "round", "color": "#6b4a2b", "weight": 8},
    },
    {
        "slug": "rafael-mendoza",
        "file": "rafael.jpg",
        "bg": ("#2f3b55", "#141b2b"),
        "bg_shape": "arch",
        "bg_accent": "#46557a",
        "skin": "olive",
        "hair": {"style": "short", "color": "salt_pepper", "part": 70},
        "face": {"jaw": 0.26, "age": 1, "brow_width": 15},
        "clothes": {
            "style": "blazer",
            "color": "#1c2333",
            "inner": "#f4f4f0",
            "tie": "#8c1c2b",
            "pin": "#d4af37",
        },
        "beard": {"style": "full", "color": "salt_pepper"},
    },
    {
        "slug": "jan-kowalski",
        "file": "jan.jpg",
        "bg": ("#bfe6ee", "#3f8fa6"),
        "bg_shape": "circles",
        "bg_accent": "#dff3f7",
        "skin": "light",
        "hair": {"style": "curly", "color": "auburn"},
        "face": {"jaw": 0.3, "lashes": True, "brow_width": 11, "age": 1},
        "clothes": {"style": "tshirt", "color": "#f0f0ea", "patch": "#e0452b"},
        "headwear": {"style": "headset", "color": "#33373d"},
    },
    {
        "slug": "samuel-osei",
        "file": "samuel.jpg",
        "bg": ("#e2e8c4", "#8ea35a"),
        "bg_shape": "stripes",
        "bg_accent": "#f1f5dc",
        "skin": "ebony",
        "hair": {"style": "buzz", "color": "black"},
        "face": {"jaw": 0.28, "brow_width": 14},
        "clothes": {
            "style": "collar",
            "color": "#3b6ea5",
            "collar": "#7aa5d8",
            "pocket_pens": True,
            "name_badge": "#f2f2f2",
        },
        "beard": {"style": "short", "color": "black"},
    },
]


def save_jpeg(img: Image.Image, dest: Path, quality: int = JPEG_QUALITY):
    dest.parent.mkdir(parents=True, exist_ok=True)
    # No exif/icc/comment: Pillow writes only JFIF + image data.
    img.save(dest, "JPEG", quality=quality, optimize=True, progressive=False, subsampling="4:2:0")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", type=Path, default=ROOT / "stories", help="stories directory (default: ./stories)"
    )
    ap.add_argument("--only", action="append", help="slug(s) to render")
    ap.add_argument("--quality", type=int, default=JPEG_QUALITY)
    args = ap.parse_args(argv)
    for spec in PEOPLE:
        if args.only and spec["slug"] not in args.only:
            continue
        dest = args.out / spec["slug"] / spec["file"]
        save_jpeg(render(spec), dest, args.quality)
        print(f"{dest}  {dest.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
