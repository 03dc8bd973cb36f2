"""The photo pipeline: any phone photo in, a fast, safe, upright picture out.

Every test makes its own images with Pillow: asymmetric pictures to see
which way up they come out, photos loaded with metadata to see that none of
it is served, and files that only pretend to be photos.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import random
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from PIL import (
    Image,
    ImageChops,
    ImageCms,
    ImageFilter,
    ImageStat,
    JpegImagePlugin,
    features,
)

from wall import create_app, photos
from wall.cli import main
from wall.photos import PhotoCache, PhotoError, prepare_upload

RED, BLUE, WHITE = (220, 30, 30), (30, 30, 220), (255, 255, 255)
ACCEPTED = "JPEG, PNG, WebP, GIF, AVIF"

# How the stored pixels relate to the picture as it should be seen, for each
# EXIF orientation (from the EXIF specification, independently of the code):
# the transposition that turns the upright picture into what a camera stores.
STORED_FROM_UPRIGHT = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # shown turned 90° clockwise: stored 90° anticlockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


# -- making pictures ---------------------------------------------------------------------------


def upright_picture(size: tuple[int, int] = (240, 160), mode: str = "RGB") -> Image.Image:
    """White, a red block top left and a blue block top right: any wrong turn or flip shows."""
    image = Image.new("RGB", size, WHITE)
    w, h = size
    image.paste(RED, (0, 0, w // 3, h // 3))
    image.paste(BLUE, (w - w // 3, 0, w, h // 3))
    return image.convert(mode)


def stored_as(orientation: int, picture: Image.Image) -> Image.Image:
    method = STORED_FROM_UPRIGHT[orientation]
    return picture.transpose(method) if method is not None else picture.copy()


def exif_with(orientation: int = 1, gps: bool = False) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Phone maker"
    if gps:
        ifd = exif.get_ifd(0x8825)
        ifd[1], ifd[2], ifd[3], ifd[4] = "N", (39.0, 45.0, 30.5), "W", (84.0, 11.0, 40.25)
    return exif


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def noise(size: tuple[int, int]) -> Image.Image:
    """A picture that does not compress well, so decoding and encoding it take real work."""
    return Image.merge("RGB", [Image.effect_noise(size, 60 + 10 * n) for n in range(3)])


def assert_upright(image: Image.Image, size: tuple[int, int] | None = None, tolerance=60) -> None:
    if size is not None:
        assert image.size == size
    rgb = image.convert("RGB")
    w, h = rgb.size

    def near(xy: tuple[float, float], colour: tuple[int, int, int]) -> bool:
        pixel = rgb.getpixel((int(xy[0] * w), int(xy[1] * h)))
        return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))

    assert near((1 / 6, 1 / 6), RED), "the red block should be top left"
    assert near((5 / 6, 1 / 6), BLUE), "the blue block should be top right"
    assert near((1 / 6, 5 / 6), WHITE) and near((5 / 6, 5 / 6), WHITE), "the bottom should be white"


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- reading what a file carries -------------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to the image data."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: the pixels follow
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def webp_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind, (size,) = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append(kind)
        pos += 8 + size + (size & 1)
    return chunks


def assert_no_metadata(data: bytes) -> None:
    """No EXIF (so no GPS), no XMP, no IPTC, no comment, no colour profile."""
    if data[:2] == b"\xff\xd8":
        markers = jpeg_markers(data)
        assert not [m for m in markers if 0xE1 <= m <= 0xEF], "an APPn segment beyond JFIF"
        assert 0xFE not in markers, "a comment"
    else:
        assert set(webp_chunks(data)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
    image = Image.open(io.BytesIO(data))
    assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(image.info)
    assert not image.getexif()
    for secret in (b"Exif", b"Phone maker", b"customer's home", b"xmpmeta", b"Photoshop"):
        assert secret not in data


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path) -> PhotoCache:
    return PhotoCache(tmp_path / "renditions")


@pytest.fixture
def photo_file(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write bytes as a photo file; return its path."""

    def write(data: bytes, name: str = "photo.jpg") -> Path:
        folder = tmp_path / "photos"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        return path

    return write


def rendition(cache: PhotoCache, path: Path, width: int = 960, fmt: str = "webp") -> bytes:
    return cache.rendition(path, width, fmt).read_bytes()


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    }


# -- orientation -------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_comes_out_upright(cache, photo_file, orientation) -> None:
    upright = upright_picture((240, 160))
    stored = stored_as(orientation, upright)
    data = encoded(stored, "JPEG", quality=95, exif=exif_with(orientation))
    path = photo_file(data)
    for fmt in ("webp", "jpg"):
        assert_upright(opened(rendition(cache, path, 960, fmt)), (240, 160))
        assert_upright(opened(rendition(cache, path, 480, fmt)), (240, 160))
    assert_upright(opened(prepare_upload(data)), (240, 160))


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_a_big_jpeg_is_shrunk_by_its_decoder_and_still_upright(
    cache, photo_file, monkeypatch, orientation
) -> None:
    """DCT scaling: a 12 MP photo asked for at 480 wide is decoded at 1/8 of its size or so."""
    drafts = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def draft(self, mode, size):  # type: ignore[no-untyped-def]
        result = real_draft(self, mode, size)
        drafts.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    upright = upright_picture((3000, 4000))
    path = photo_file(encoded(stored_as(orientation, upright), "JPEG", exif=exif_with(orientation)))
    assert_upright(opened(rendition(cache, path, 480)), (480, 640))
    assert len(drafts) == 1
    (_, decoded) = drafts[0]
    assert decoded[0] * decoded[1] <= 4000 * 3000 / 16  # decoded at 1/4 per side or less
    assert min(decoded) >= 480  # but never below what the rendition needs


# -- sizes: each rendition fits a box -----------------------------------------------------------

# Upright photo size → the upright size of each rendition, 480, 960, 1920 and 3840, worked out
# by hand: 480 and 960 by width (at most twice as tall); 1920 and 3840 to a 1080p and a 4K
# screen turned to the photo (1920x1080 or 1080x1920; 3840x2160 or 2160x3840).
EXPECTED_SIZES = {
    "landscape 12 MP": ((4032, 3024), [(480, 360), (960, 720), (1440, 1080), (2880, 2160)]),
    "portrait 12 MP": ((3024, 4032), [(480, 640), (960, 1280), (1080, 1440), (2160, 2880)]),
    "square": ((3000, 3000), [(480, 480), (960, 960), (1080, 1080), (2160, 2160)]),
    "16:9 video still": ((5120, 2880), [(480, 270), (960, 540), (1920, 1080), (3840, 2160)]),
    "9:16 phone screenshot": ((2160, 3840), [(480, 853), (960, 1707), (1080, 1920), (2160, 3840)]),
    "panorama": ((12000, 2000), [(480, 80), (960, 160), (1920, 320), (3840, 640)]),
    "a tall strip": ((1000, 20000), [(48, 960), (96, 1920), (96, 1920), (192, 3840)]),
    "small": ((800, 600), [(480, 360), (800, 600), (800, 600), (800, 600)]),
    "small portrait": ((600, 800), [(480, 640), (600, 800), (600, 800), (600, 800)]),
    "tiny": ((40, 30), [(40, 30)] * 4),
}


@pytest.mark.parametrize("case", EXPECTED_SIZES)
def test_each_rendition_fits_its_box(case) -> None:
    upright, expected = EXPECTED_SIZES[case]
    assert [photos.rendition_size(upright, size) for size in photos.SIZES] == expected


def test_no_rendition_is_bigger_than_the_largest_screen_or_the_photo() -> None:
    for w, h in itertools.product((1, 7, 333, 1080, 2161, 3024, 4032, 8000, 50000), repeat=2):
        for size in (*photos.SIZES, photos.SHARE_WIDTH):
            rw, rh = photos.rendition_size((w, h), size)
            assert 1 <= rw <= w and 1 <= rh <= h, ((w, h), size)
            assert (rw <= 3840 and rh <= 2160) or (rw <= 2160 and rh <= 3840), ((w, h), size)
            if size in photos.SCREENS:
                screen = photos.SCREENS[size]
                assert max(rw, rh) <= screen[0] and min(rw, rh) <= screen[1], ((w, h), size)


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_a_portrait_phone_photo_fits_every_screen_and_is_shrunk_by_its_decoder(
    cache, photo_file, monkeypatch, orientation
) -> None:
    """12 MP, held upright: stored 4000x3000 with orientation 6 or 8, or upright as it is.

    A 1080p screen's rendition is 1080x1440, so the decoder can decode at half size; before,
    1920 wide (1920x2560) needed more than half of the stored rows and all 12 MP were decoded.
    """
    drafts = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def draft(self, mode, size):  # type: ignore[no-untyped-def]
        result = real_draft(self, mode, size)
        drafts.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    upright = upright_picture((3000, 4000))
    path = photo_file(encoded(stored_as(orientation, upright), "JPEG", exif=exif_with(orientation)))
    made = {size: opened(rendition(cache, path, size)) for size in photos.SIZES}
    assert_upright(made[1920], (1080, 1440))
    assert_upright(made[3840], (2160, 2880))
    assert [made[size].size for size in (480, 960)] == [(480, 640), (960, 1280)]
    decoded_1920 = drafts[2]
    assert decoded_1920[0] * decoded_1920[1] == 3000 * 4000 // 4  # half size, each side
    assert len(drafts) == 4


def test_small_photos_are_never_enlarged(cache, photo_file) -> None:
    """Every size a photo fits as it is links to one file of the photo at its own size."""
    sideways = encoded(stored_as(6, upright_picture((600, 800))), "JPEG", exif=exif_with(6))
    path = photo_file(sideways, "sideways.jpg")
    sizes = {s: opened(rendition(cache, path, s, "jpg")).size for s in photos.SIZES}
    assert sizes == {480: (480, 640), 960: (600, 800), 1920: (600, 800), 3840: (600, 800)}
    assert cache.made == 2
    full = cache.rendition(path, 960, "jpg")
    assert full.samefile(cache.rendition(path, 3840, "jpg"))


def test_banded_shrink_is_the_same_as_one_resize() -> None:
    """No seams between bands: on photo-like content, within rounding of one big resize.

    (Pillow filters a band vertically first and a whole image horizontally
    first; each pass rounds to 8 bits, hence the one or two levels.)
    """
    image = noise((2000, 1500)).filter(ImageFilter.GaussianBlur(1.5))
    box = (0.0, 0.0, 2000.0, 1500.0)
    banded = photos._shrink(image, (1920, 1440), box)
    whole = image.resize((1920, 1440), photos._RESAMPLE, box=box)
    difference = ImageChops.difference(banded, whole)
    assert all(high <= 3 for _, high in difference.getextrema())
    assert max(ImageStat.Stat(difference).mean) < 0.5


# -- metadata ----------------------------------------------------------------------------------

_CAPTION = b"\x1c\x02\x78" + struct.pack(">H", 6) + b"Secret"  # IPTC 2:120, the caption
_IPTC = b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00" + struct.pack(">I", 11) + _CAPTION + b"\x00"
IPTC = b"\xff\xed" + struct.pack(">H", 2 + len(_IPTC)) + _IPTC  # an APP13 segment


def loaded_jpeg() -> bytes:
    """A phone photo with everything that must not be published."""
    picture = stored_as(6, upright_picture((300, 200)))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(
        picture,
        "JPEG",
        exif=exif_with(6, gps=True),
        comment=b"taken at the customer's home",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">Home address</x:xmpmeta>',
        icc_profile=srgb,
        extra=IPTC,
    )
    original = Image.open(io.BytesIO(data))
    assert original.getexif().get_ifd(0x8825)[1] == "N"  # the GPS position is there…
    assert original.info["comment"] and original.info["xmp"] and original.info["icc_profile"]
    assert b"Photoshop 3.0" in data  # …and so are the XMP, the profile and IPTC
    return data


def test_no_served_rendition_carries_the_originals_metadata(client, app, write_story) -> None:
    """Photos dropped into stories/ by hand: every width, both formats, through the route."""
    story = write_story("maria", photo="maria.jpg")
    (story.parent / "maria.jpg").write_bytes(loaded_jpeg())
    app.extensions["storywall"].index.rescan()
    photo = client.get("/api/stories").get_json()["stories"][0]["photo"]
    urls = [
        part.split()[0] for srcset in (photo["webp"], photo["jpeg"]) for part in srcset.split(", ")
    ]
    assert len(urls) == 2 * len(photos.SIZES)
    for url in [*urls, photo["src"]]:
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert_no_metadata(response.data)
            assert_upright(opened(response.data), (300, 200))


def test_an_upload_keeps_no_metadata() -> None:
    cleaned = prepare_upload(loaded_jpeg())
    assert_no_metadata(cleaned)
    assert_upright(opened(cleaned), (300, 200))


def test_a_normalized_image_carries_nothing_to_an_encoder() -> None:
    image = Image.open(io.BytesIO(loaded_jpeg()))
    for fmt in ("webp", "jpg"):
        assert_no_metadata(photos.encode(photos.normalize(image.copy(), 960), fmt))
    assert image.info["comment"], "the caller's image is left alone"


# -- colour ------------------------------------------------------------------------------------


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _srgb_to_lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    d50 = (  # sRGB to XYZ, adapted to the D50 of the ICC connection space
        (0.4360747, 0.3850649, 0.1430804),
        (0.2225045, 0.7168786, 0.0606169),
        (0.0139322, 0.0971045, 0.7141733),
    )
    x, y, z = (sum(a * b for a, b in zip(row, linear, strict=True)) for row in d50)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x / 0.9642), f(y), f(z / 0.8249)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def cmyk_profile() -> bytes:
    """A small, real ICC profile for CMYK (there is none on a test machine to borrow).

    A lut16 from CMYK to Lab with a grid of two points per ink: every ink
    prints as the usual formula says, except that cyan is a warm, yellowish
    cyan, so a photo converted through the profile looks different from
    one converted without it.
    """
    clut = b""
    for c, m, y, k in itertools.product((0, 1), repeat=4):
        rgb = ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k) * (0.55 if c else 1))
        lightness, a, b = _srgb_to_lab(rgb)
        clut += struct.pack(
            ">3H", round(lightness / 100 * 0xFF00), round((a + 128) * 256), round((b + 128) * 256)
        )
    identity = b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    ramp = struct.pack(">2H", 0, 65535)
    lut = b"mft2" + bytes(4) + bytes([4, 3, 2, 0]) + identity + struct.pack(">2H", 2, 2)
    lut += ramp * 4 + clut + ramp * 3
    text = b"Test CMYK with a warm cyan"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + bytes(1 + 8 + 3 + 67)
    white = b"XYZ " + bytes(4) + _s15(0.9642) + _s15(1.0) + _s15(0.8249)
    tags = [(b"desc", desc), (b"wtpt", white), (b"A2B0", lut)]
    start = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, content in tags:
        content += bytes(-len(content) % 4)
        table += signature + struct.pack(">2I", start + len(body), len(content))
        body += content
    header = struct.pack(">I", start + len(body)) + bytes(4) + bytes([2, 0x10, 0, 0])
    header += b"scnrCMYKLab " + bytes(12) + b"acsp" + bytes(28)
    header += _s15(0.9642) + _s15(1.0) + _s15(0.8249) + bytes(48)
    return header + struct.pack(">I", len(tags)) + table + body


def test_cmyk_with_a_profile_follows_the_profile(cache, photo_file) -> None:
    cyan = Image.new("CMYK", (200, 100), (255, 0, 0, 0))
    cyan.paste((0, 0, 0, 0), (100, 0, 200, 100))  # and paper white
    with_profile = photo_file(encoded(cyan, "JPEG", quality=95, icc_profile=cmyk_profile()))
    without = photo_file(encoded(cyan, "JPEG", quality=95), "plain.jpg")
    for fmt in ("webp", "jpg"):
        managed = opened(rendition(cache, with_profile, 960, fmt)).convert("RGB")
        r, g, b = managed.getpixel((50, 50))
        assert r < 40 and g > 200 and 90 < b < 180, "cyan as the profile prints it"
        assert min(managed.getpixel((150, 50))) > 240, "paper stays white"
        naive = opened(rendition(cache, without, 960, fmt)).convert("RGB").getpixel((50, 50))
        assert naive[0] < 40 and naive[1] > 200 and naive[2] > 200, "no profile: plain cyan"


def test_a_broken_colour_profile_does_not_lose_the_photo(cache, photo_file) -> None:
    data = encoded(upright_picture(), "JPEG", icc_profile=b"not really a profile" * 10)
    assert_upright(opened(rendition(cache, photo_file(data))), (240, 160))


def test_sixteen_bit_grey_png_keeps_its_tones(cache, photo_file) -> None:
    image = Image.new("I;16", (300, 100), 0)
    image.paste(Image.new("I;16", (100, 100), 65535), (0, 0))
    image.paste(Image.new("I;16", (100, 100), 32768), (100, 0))
    path = photo_file(encoded(image, "PNG"), "grey16.png")
    with Image.open(path) as original:
        assert original.mode == "I;16"
    for fmt in ("webp", "jpg"):
        out = opened(rendition(cache, path, 960, fmt))
        assert out.mode == "RGB"
        white, middle, black = (out.getpixel((x, 50)) for x in (50, 150, 250))
        assert min(white) >= 250 and all(118 <= v <= 138 for v in middle) and max(black) <= 5


def test_a_palette_png_with_transparency(cache, photo_file) -> None:
    image = Image.new("P", (200, 100), 0)
    image.putpalette([0, 0, 0, 220, 30, 30] + [0] * 762)
    image.paste(1, (0, 0, 100, 100))
    path = photo_file(encoded(image, "PNG", transparency=0), "logo.png")
    webp = opened(rendition(cache, path, 960, "webp"))
    assert webp.mode == "RGBA", "WebP keeps the transparency"
    assert webp.getpixel((150, 50))[3] == 0 and webp.getpixel((50, 50))[3] == 255
    jpg = opened(rendition(cache, path, 960, "jpg"))
    assert min(jpg.getpixel((150, 50))) > 245, "JPEG has none: flattened onto white"
    assert jpg.getpixel((50, 50))[0] > 180
    assert min(opened(prepare_upload(path.read_bytes())).getpixel((150, 50))) > 245


def test_grey_jpeg_and_grey_png_with_alpha(cache, photo_file) -> None:
    grey = photo_file(encoded(upright_picture(mode="L"), "JPEG"), "grey.jpg")
    assert opened(rendition(cache, grey)).mode == "RGB"
    la = Image.new("LA", (100, 100), (128, 255))
    la.paste((0, 0), (50, 0, 100, 100))
    out = opened(rendition(cache, photo_file(encoded(la, "PNG"), "la.png"), 960, "jpg"))
    assert out.getpixel((25, 50))[0] in range(120, 137) and min(out.getpixel((75, 50))) > 245


def test_an_animated_gif_gives_its_first_frame(cache, photo_file) -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in (RED, BLUE, (0, 160, 0))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = opened(rendition(cache, photo_file(data, "moving.gif")))
    assert getattr(out, "n_frames", 1) == 1
    assert out.convert("RGB").getpixel((60, 40))[0] > 180


def _heif_or_skip() -> None:
    if not photos.HEIF_AVAILABLE:
        pytest.skip("pillow-heif (storywall[heic]) is not installed")


FORMATS = {
    "JPEG": ("photo.jpg", {"exif": exif_with(6)}),
    "PNG": ("photo.png", {"exif": exif_with(6)}),
    "WEBP": ("photo.webp", {"exif": exif_with(6), "quality": 90}),
    "GIF": ("photo.gif", {}),
    "MPO": ("photo.jpg", {"exif": exif_with(6), "save_all": True}),
    "AVIF": ("photo.avif", {"exif": exif_with(6), "quality": 90}),
    "HEIF": ("photo.heic", {"exif": exif_with(6), "quality": 90}),
}


@pytest.mark.parametrize("kind", list(FORMATS))
def test_each_accepted_format_comes_out_upright_and_clean(cache, photo_file, kind) -> None:
    if kind == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    if kind == "HEIF":
        _heif_or_skip()
    name, options = FORMATS[kind]
    upright = upright_picture((240, 160))
    sideways = "exif" in options
    picture = stored_as(6, upright) if sideways else upright
    if kind == "MPO":  # as phones write them: a second picture (a depth or gain map) after
        options = {**options, "append_images": [Image.new("RGB", picture.size, "gray")]}
    if kind == "HEIF":  # as iPhones write them: the turn in the container (irot), and in EXIF
        picture.info["exif"] = options["exif"].tobytes()
        options = {k: v for k, v in options.items() if k != "exif"}
    data = encoded(picture, kind, **options)
    path = photo_file(data, name)
    with Image.open(path) as original:
        assert original.format == kind
    for fmt in ("webp", "jpg"):
        served = rendition(cache, path, 960, fmt)
        assert_no_metadata(served)
        assert_upright(opened(served), (240, 160))
    assert_upright(opened(prepare_upload(data)), (240, 160))


def test_the_format_comes_from_the_content_not_the_name(cache, photo_file) -> None:
    path = photo_file(encoded(upright_picture(), "PNG"), "really-a-png.jpg")
    assert_upright(opened(rendition(cache, path)), (240, 160))


def test_without_the_heic_extra_a_heic_photo_says_how_to_enable_it(monkeypatch) -> None:
    _heif_or_skip()
    data = encoded(upright_picture(), "HEIF")
    monkeypatch.setattr(photos, "HEIF_AVAILABLE", False)
    monkeypatch.setattr(photos, "ACCEPTED_FORMATS", ("JPEG", "PNG", "WEBP", "GIF", "AVIF"))
    with pytest.raises(PhotoError, match=r"HEIC photo; install storywall\[heic\]"):
        prepare_upload(data)


# -- refusals ----------------------------------------------------------------------------------


def _truncated_jpeg() -> bytes:
    data = encoded(noise((600, 400)), "JPEG", quality=90)
    return data[: len(data) // 2]


def _corrupt_png() -> bytes:
    data = bytearray(encoded(noise((300, 200)), "PNG"))
    start = data.index(b"IDAT") + 40
    data[start : start + 400] = random.Random(1).randbytes(400)
    return bytes(data)


NOT_PHOTOS = {
    "truncated JPEG": (_truncated_jpeg, "damaged or cut short"),
    "corrupt PNG": (_corrupt_png, "damaged or cut short"),
    "SVG with a script": (
        lambda: (
            b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>fetch('/admin')</script></svg>"
        ),
        "this is an SVG drawing",
    ),
    "HTML named .jpg": (
        lambda: b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        r"this is a web page \(HTML\)",
    ),
    "PDF": (lambda: b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n", "this is a PDF document"),
    "PSD": (lambda: b"8BPS\x00\x01" + bytes(200), "this is a Photoshop file"),
    "TIFF": (lambda: encoded(upright_picture(), "TIFF"), "this is a TIFF file"),
    "EPS": (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "PostScript"),
    "BMP": (lambda: encoded(upright_picture(), "BMP"), "not a photo we can use"),
    "random bytes": (lambda: random.Random(0).randbytes(5000), "not a photo we can use"),
    "empty file": (lambda: b"", "not a photo we can use"),
}


@pytest.mark.parametrize("name", list(NOT_PHOTOS))
def test_what_is_not_a_usable_photo_is_refused_clearly(
    client, app, stories, write_story, instance, name
) -> None:
    make, message = NOT_PHOTOS[name]
    data = make()
    with pytest.raises(PhotoError, match=message) as refused:
        prepare_upload(data)
    if "damaged" not in message:
        assert f"send {ACCEPTED}" in str(refused.value)
    # The same file dropped into a story bundle by hand: never served, nothing written.
    story = write_story("maria", photo="maria.jpg")
    (story.parent / "maria.jpg").write_bytes(data)
    wall = app.extensions["storywall"]
    wall.index.rescan()
    before = snapshot(stories)
    with pytest.raises(PhotoError, match=message):
        wall.photos.rendition(story.parent / "maria.jpg", 960, "webp")
    photo = client.get("/api/stories").get_json()["stories"][0]["photo"]
    assert client.get(photo["src"]).status_code == 404
    assert snapshot(stories) == before
    made = [p for p in (instance / "renditions").rglob("*") if p.is_file()]
    assert all(p.name.endswith(".lock") for p in made), made


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A black-and-white PNG of width x height zeros: tiny on disk, huge once decoded."""
    row = bytes(1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">2I5B", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png(20_000, 20_000)


def test_a_decompression_bomb_is_refused_in_under_a_second(cache, photo_file, bomb) -> None:
    assert 40_000 < len(bomb) < 60_000  # a 48 KB file declaring 400 megapixels
    path = photo_file(bomb, "bomb.png")
    for attempt in (
        lambda: prepare_upload(bomb),
        lambda: cache.rendition(path, 1920, "webp"),
        lambda: photos.inspect_photo(path),
    ):
        started = time.perf_counter()
        with pytest.raises(PhotoError, match="400 megapixels; the limit is 50"):
            attempt()
        assert time.perf_counter() - started < 1.0


def test_the_pixel_limit_is_checked_from_the_header(cache, photo_file) -> None:
    # Under Pillow's own limit, over ours: refused before a single row is decoded.
    header_only = bomb_png(9000, 9000)[:200]
    with pytest.raises(PhotoError, match=r"9000×9000 \(81 megapixels\); the limit is 50"):
        prepare_upload(header_only)
    small = PhotoCache(cache.folder, max_pixels=10_000)
    path = photo_file(encoded(upright_picture((200, 100)), "JPEG"))
    with pytest.raises(PhotoError, match=r"200×100 \(0.02 megapixels\); the limit is 0.01"):
        small.rendition(path, 960, "webp")
    assert_upright(opened(rendition(cache, path)), (200, 100))


def test_a_bad_photo_is_not_decoded_again_on_every_request(cache, photo_file, monkeypatch):
    path = photo_file(_truncated_jpeg())
    with pytest.raises(PhotoError, match="damaged"):
        cache.rendition(path, 960, "webp")

    def must_not_decode(*args: object) -> None:
        raise AssertionError("decoded a photo already known to be bad")

    monkeypatch.setattr(photos, "_render", must_not_decode)
    with pytest.raises(PhotoError, match="damaged"):
        cache.rendition(path, 480, "jpg")


def test_a_failure_of_the_server_is_not_held_against_the_photo(cache, photo_file, monkeypatch):
    path = photo_file(encoded(upright_picture(), "JPEG"))
    real_render = photos._render

    def out_of_memory(*args: object) -> None:
        raise PhotoError("the photo is too big to open on this server", transient=True)

    monkeypatch.setattr(photos, "_render", out_of_memory)
    with pytest.raises(PhotoError, match="too big to open"):
        cache.rendition(path, 960, "webp")
    monkeypatch.setattr(photos, "_render", real_render)
    assert_upright(opened(rendition(cache, path)), (240, 160))


# -- the rendition cache -----------------------------------------------------------------------


def test_renditions_are_never_upscaled_and_share_one_file(cache, photo_file) -> None:
    path = photo_file(encoded(upright_picture((800, 600)), "JPEG"))
    paths = {width: cache.rendition(path, width, "webp") for width in photos.SIZES}
    assert [opened(p.read_bytes()).width for p in paths.values()] == [480, 800, 800, 800]
    assert paths[1920].samefile(paths[3840])
    assert cache.made == 2  # 480, and the photo's own 800 for 960, 1920 and 3840


def test_same_content_is_encoded_once(cache, photo_file) -> None:
    data = encoded(upright_picture(), "JPEG")
    first, second = photo_file(data, "a.jpg"), photo_file(data, "b.jpg")
    assert cache.rendition(first, 960, "webp") == cache.rendition(second, 960, "webp")
    assert cache.made == 1


def test_an_edited_photo_gets_a_new_url_and_rendition(cache, photo_file) -> None:
    path = photo_file(encoded(upright_picture(), "JPEG"))
    token, made = photos.stat_token(path), cache.rendition(path, 960, "webp")
    time.sleep(0.01)
    path.write_bytes(encoded(upright_picture().transpose(Image.Transpose.ROTATE_180), "JPEG"))
    assert photos.stat_token(path) != token
    assert cache.rendition(path, 960, "webp") != made


def test_prepare_makes_every_size_and_format_once_and_records_it(cache, photo_file) -> None:
    path = photo_file(encoded(upright_picture((2000, 1000)), "JPEG"))
    assert cache.preparation(path) is None
    assert cache.prepare(path) == 8  # 480, 960, 1920 (1920x960) and, for 3840, the photo's own
    assert cache.preparation(path) == ""
    assert cache.prepare(path) == 0
    expected = {480: (480, 240), 960: (960, 480), 1920: (1920, 960), 3840: (2000, 1000)}
    for size in photos.SIZES:
        for fmt in ("webp", "jpg"):
            assert opened(rendition(cache, path, size, fmt)).size == expected[size]
    assert cache.made == 8


def test_an_edited_photo_is_prepared_again(cache, photo_file) -> None:
    path = photo_file(encoded(upright_picture((1000, 800)), "JPEG"))
    cache.prepare(path)
    path.write_bytes(encoded(upright_picture((1000, 700)), "JPEG"))
    assert cache.preparation(path) is None
    assert cache.prepare(path) > 0 and cache.preparation(path) == ""


def test_a_photo_that_cannot_be_shown_is_recorded_with_the_reason(cache, photo_file) -> None:
    path = photo_file(_truncated_jpeg())
    with pytest.raises(PhotoError):
        cache.prepare(path)
    assert "damaged or cut short" in cache.preparation(path)


def test_renditions_are_cached_in_the_instance_folder(client, app, stories, write_story, instance):
    story = write_story("maria", photo="maria.jpg", photo_focus=[0.25, 0.1])
    (story.parent / "maria.jpg").write_bytes(encoded(upright_picture((1200, 800)), "JPEG"))
    app.extensions["storywall"].index.rescan()
    before = snapshot(stories)
    photo = client.get("/api/stories").get_json()["stories"][0]["photo"]
    webp = photo["webp"].split(", ")[1].split()[0]
    with client.get(webp) as response:
        assert response.status_code == 200 and response.mimetype == "image/webp"
        assert "immutable" in response.headers["Cache-Control"]
    assert snapshot(stories) == before
    assert list((instance / "renditions").rglob("*-960.webp"))
    for page in ("/stories/maria", "/"):
        html = client.get(page).get_data(as_text=True)
        assert 'type="image/webp"' in html and "srcset=" in html and "sizes=" in html
        assert "object-position: 25% 10%" in html  # crops keep the face where photo_focus says


def test_two_threads_asking_at_once_make_one_encode(cache, photo_file, monkeypatch) -> None:
    path = photo_file(encoded(upright_picture((1600, 1200)), "JPEG"))
    target = cache.path_for(photos.content_hash(path), 960, "webp")
    encodes, seen_early = [], []
    real_encode, real_lock = photos.encode, threading.Lock
    # No sleeping and hoping: the first encode waits until the second thread has
    # come to the rendition's lock (or, were there no lock, to an encode of its own).
    arrived = threading.Condition()
    at_lock = 0

    class WatchedLock:
        def __init__(self) -> None:
            self._lock = real_lock()

        def __enter__(self) -> WatchedLock:
            nonlocal at_lock
            with arrived:
                at_lock += 1
                arrived.notify_all()
            self._lock.acquire()
            return self

        def __exit__(self, *exc: object) -> None:
            self._lock.release()

    def watched_encode(image: Image.Image, fmt: str) -> bytes:
        with arrived:
            encodes.append(fmt)
            arrived.notify_all()
            assert arrived.wait_for(lambda: at_lock == 2 or len(encodes) == 2, timeout=10), (
                "the other thread never came"
            )
        seen_early.append(target.exists())
        return real_encode(image, fmt)

    monkeypatch.setattr(photos, "encode", watched_encode)
    monkeypatch.setattr(photos, "threading", SimpleNamespace(Lock=WatchedLock))
    start = threading.Barrier(2)
    results: list[Path] = []

    def ask() -> None:
        start.wait()
        results.append(cache.rendition(path, 960, "webp"))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [target, target]
    assert encodes == ["webp"] and seen_early == [False]  # nothing was there half-written
    assert opened(target.read_bytes()).size == (960, 720)
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_request_never_waits_behind_background_preparation(cache, photo_file, monkeypatch):
    """The warmer runs at a low priority: a request must not queue behind its encode."""
    path = photo_file(encoded(upright_picture((1600, 1200)), "JPEG"))
    real_encode = photos.encode
    encoding, release = threading.Event(), threading.Event()

    def held_in_the_background(image: Image.Image, fmt: str) -> bytes:
        if threading.current_thread().name == "preparer":
            encoding.set()
            assert release.wait(30)
        return real_encode(image, fmt)

    monkeypatch.setattr(photos, "encode", held_in_the_background)
    preparer = threading.Thread(target=cache.prepare, args=(path,), name="preparer")
    preparer.start()
    try:
        assert encoding.wait(30)  # preparing the 480 rendition, and held there
        answered: list[Path] = []
        asker = threading.Thread(target=lambda: answered.append(cache.rendition(path, 480, "webp")))
        asker.start()
        asker.join(30)
        assert answered and answered[0].is_file(), "the request waited for the background"
    finally:
        release.set()
        preparer.join(30)
    assert cache.preparation(path) == ""
    assert cache.made == 8  # each file written once: the preparer's own 480 WebP was dropped


# A worker process of its own: it says it is ready, waits for the go, asks for the rendition.
WORKER = """
import sys, time
from pathlib import Path
from wall.photos import PhotoCache
folder, source, ready, go = sys.argv[1:]
cache = PhotoCache(Path(folder))
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
path = cache.rendition(Path(source), 1920, "webp")
print(path, cache.made)
"""


def test_two_processes_asking_at_once_make_one_encode(tmp_path, photo_file) -> None:
    path = photo_file(encoded(noise((3000, 2000)), "JPEG", quality=90))
    go = tmp_path / "go"
    arguments = [str(tmp_path / "renditions"), str(path)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *arguments, str(tmp_path / f"ready-{n}"), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready-{n}").exists() for n in range(2)):
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.001)
    go.touch()
    answers = [worker.communicate(timeout=60)[0].split() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert answers[0][0] == answers[1][0]
    assert sorted(made for _, made in answers) == ["0", "1"]
    assert opened(Path(answers[0][0]).read_bytes()).size == (1620, 1080)  # a 1080p screen's


# -- uploads over the size limit ---------------------------------------------------------------


def test_an_upload_over_the_size_limit_is_answered_413(stories, instance) -> None:
    app = create_app(
        {
            "STORIES_DIR": str(stories),
            "INSTANCE_PATH": str(instance),
            "WATCH": "off",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "MAX_UPLOAD_MB": 1,
        }
    )

    def receive() -> str:
        from flask import request

        return str(len(request.get_data()))

    app.add_url_rule("/api/receive", "api_receive", receive, methods=["POST"])
    app.add_url_rule("/receive", "receive", receive, methods=["POST"])
    client = app.test_client()
    big = bytes(1024 * 1024 + 1)
    assert client.post("/receive", data=bytes(1000)).get_data(as_text=True) == "1000"
    api = client.post("/api/receive", data=big)
    assert api.status_code == 413 and "1 MB limit" in api.get_json()["message"]
    page = client.post("/receive", data=big)
    assert page.status_code == 413 and "larger than the 1 MB limit" in page.get_data(as_text=True)


def test_the_upload_limit_defaults_to_25_mb(app) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == 25 * 1024 * 1024


# -- storywall photos --------------------------------------------------------------------------


def test_the_photos_command_pregenerates_and_lists_problem_photos(
    tmp_path, stories, write_story
) -> None:
    good = write_story("maria", photo="maria.jpg")
    (good.parent / "maria.jpg").write_bytes(encoded(upright_picture((1200, 900)), "JPEG"))
    bad = write_story("dev", name="Dev Patel", photo="dev.jpg")
    (bad.parent / "dev.jpg").write_bytes(_truncated_jpeg())
    write_story("grace", name="Grace Okafor", photo="missing.jpg")
    instance = tmp_path / "elsewhere"
    env = {"WALL_INSTANCE_PATH": str(instance)}
    result = CliRunner().invoke(main, ["photos", str(stories)], env=env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"{bad.parent / 'dev.jpg'}: the photo is damaged or cut short" in "\n".join(lines)
    assert any("missing.jpg" in line and "grace" in line for line in lines)
    # 480, 960 and the photo's own 1200, as WebP and JPEG; 1920 and 3840 are links to 1200.
    assert "2 photos, 6 renditions made, 2 problems" in result.stderr
    assert len(list((instance / "renditions").rglob("*.webp"))) == 5
    bad.parent.joinpath("dev.jpg").unlink()
    bad.write_text(bad.read_text().replace("photo: dev.jpg\n", ""))
    good.parent.parent.joinpath("grace", "index.md").unlink()
    again = CliRunner().invoke(main, ["photos"], env={**env, "WALL_STORIES_DIR": str(stories)})
    assert again.exit_code == 0, again.output
    assert "1 photos, 0 renditions made, 0 problems" in again.stderr


def test_inspect_photo_checks_every_pixel(photo_file) -> None:
    path = photo_file(encoded(stored_as(6, upright_picture((300, 200))), "JPEG", exif=exif_with(6)))
    info = photos.inspect_photo(path)
    assert (info.format, info.width, info.height) == ("JPEG", 300, 200)
    with pytest.raises(PhotoError, match="damaged or cut short"):
        photos.inspect_photo(photo_file(_truncated_jpeg(), "cut.jpg"))


def test_photo_errors_never_escape_as_anything_else(photo_file) -> None:
    rng = random.Random(7)
    good = encoded(noise((200, 150)), "PNG")
    for _ in range(30):  # flipped bytes anywhere in a real PNG
        data = bytearray(good)
        for _ in range(8):
            data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(PhotoError):
            prepare_upload(bytes(data))
