"""Photos: any phone or camera picture in, an upright, metadata-free rendition out.

Browsers never get an original file. Every photo is re-encoded into a few
sizes, with the EXIF orientation applied, colours converted to sRGB and all
metadata (EXIF with GPS, XMP, IPTC, comments, colour profiles) left behind.
Renditions are cached by content hash in the instance folder, outside
`stories/`, so the watcher never sees them.

Each rendition fits a box (`rendition_size`): the screens' sizes fit a
full-HD or a 4K screen turned to the photo's orientation, since no slide
shows a photo larger than its screen; the intranet's smaller sizes are
bounded by width, as `srcset` describes them.

The work is ordered for memory as much as for speed: a big JPEG is decoded
at 1/2, 1/4 or 1/8 size by the JPEG decoder itself (DCT scaling), the
shrink runs in horizontal bands so that it needs no full-size temporary
image, and the colour conversion and the rotation happen on the small
result, after the decoded original has been freed.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import logging
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageCms, ImageFile, JpegImagePlugin, UnidentifiedImageError

from .files import open_plain, write_atomic

log = logging.getLogger(__name__)

# Rendition sizes, named by width, as URLs and `srcset` name them. 480 and 960
# are for the intranet's cards and pages, which size a photo by its width:
# they are that wide, and at most twice as tall. 1920 and 3840 are for
# screens: the photo fitted to a 1080p or a 4K screen in its own orientation
# (1920x1080 or 1080x1920; 3840x2160 or 2160x3840). A slide never shows a
# photo bigger than its screen, and the kiosk asks for its screen's size
# (static/kiosk/slides.js), so a portrait photo is no longer made taller
# than any screen, and its decoder can shrink it by half (DCT scaling).
SIZES = (480, 960, 1920, 3840)
SCREENS = {1920: (1920, 1080), 3840: (3840, 2160)}
# No rendition, of any size, is bigger than the largest screen, turned to the photo.
LARGEST_SCREEN = SCREENS[max(SCREENS)]
# A link preview's image (Open Graph, Twitter cards): 1200 px wide, JPEG only.
SHARE_WIDTH = 1200
MAX_PIXELS = 50_000_000
# Content types browsers are sent, by rendition file extension.
RENDITION_TYPES = {"webp": "image/webp", "jpg": "image/jpeg"}
FORMATS = tuple(RENDITION_TYPES)
# Bumped whenever the pipeline's output changes: a new folder in the cache
# and new photo URLs, so that no browser or disk keeps an older rendition.
RENDITION_VERSION = 3  # 3: renditions fit boxes (rendition_size), not widths only

# Measured with bench/photo.py (docs/benchmarks.md). WebP method 2 is the
# last step before libwebp's slow rate-distortion search: methods 3 and up
# take about three times as long for files a few per cent smaller, and
# methods 0 and 1 save little time for files up to a third bigger.
_SAVE = {
    "webp": ("WEBP", {"quality": 80, "method": 2}),
    "jpg": ("JPEG", {"quality": 84, "optimize": True, "progressive": True}),
}
# The upload kept in a story bundle is the source of every later rendition:
# a higher quality, so that re-encoding it costs nothing visible.
_SAVE_UPLOAD = ("JPEG", {"quality": 90, "optimize": True})
# Bicubic rather than Lanczos: a fifth faster for the usual shrink, and the
# difference does not show on a photo at TV distance (bench/photo.py).
_RESAMPLE = Image.Resampling.BICUBIC
# Integer pre-reduction for non-JPEG sources (JPEGs shrink in the decoder):
# at 3.0 the result is indistinguishable from resampling all the way.
_REDUCING_GAP = 3.0
# The shrink works in bands of about this many output pixels.
_BAND_PIXELS = 1 << 19
_FLATTEN_ON = (255, 255, 255)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

try:  # HEIC/HEIF from iPhones, through the optional extra storywall[heic].
    from pillow_heif import register_heif_opener  # type: ignore[import-not-found]

    register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:
    HEIF_AVAILABLE = False

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "AVIF") + (("HEIF",) if HEIF_AVAILABLE else ())
ACCEPTED_LABEL = "JPEG, PNG, WebP, GIF, AVIF" + (" or HEIC" if HEIF_AVAILABLE else "")

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a cut-short photo is an error, never half a face

# EXIF orientation → the transposition that makes the picture upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SIDEWAYS = {5, 6, 7, 8}

# What people send instead of a photo, by its first bytes, to say so plainly.
_NOT_PHOTOS = (
    (re.compile(rb"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<svg", re.S | re.I), "an SVG drawing"),
    (re.compile(rb"^\s*<(!doctype html|html|head|body|script)", re.I), "a web page (HTML)"),
    (re.compile(rb"^%PDF"), "a PDF document"),
    (re.compile(rb"^8BPS"), "a Photoshop file"),
    (re.compile(rb"^(II\*\x00|MM\x00\*)"), "a TIFF file"),
    (re.compile(rb"^(%!PS|\xc5\xd0\xd3\xc6)"), "a PostScript (EPS) file"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


class PhotoError(ValueError):
    """A photo that cannot be shown, with a message for the person who gave it.

    `transient` when the cause is this server (memory, a read error), not
    the photo: worth trying again later.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class PhotoInfo:
    format: str
    width: int
    height: int


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# Decoding a 50-megapixel photo takes a few hundred MB; a worker with 64
# threads must not do 64 of those at once. Extra requests wait their turn.
_WORK_SLOTS = threading.BoundedSemaphore(max(2, _cpus()))


def _head(source: Path | IO[bytes]) -> bytes:
    if isinstance(source, Path):
        with source.open("rb") as f:
            return f.read(512)
    source.seek(0)
    return source.read(512)


def _refusal(head: bytes) -> str:
    """The message for a file that is not in an accepted format."""
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS and not HEIF_AVAILABLE:
        return "this is a HEIC photo; install storywall[heic] to accept it, or send it as JPEG"
    for pattern, kind in _NOT_PHOTOS:
        if pattern.match(head):
            return f"this is {kind}, not a photo we can use; send {ACCEPTED_LABEL}"
    return f"not a photo we can use; send {ACCEPTED_LABEL}"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g}"


def _too_many_pixels(width: int, height: int, max_pixels: int) -> PhotoError:
    return PhotoError(
        f"the photo is {width}×{height} ({_megapixels(width * height)} megapixels); "
        f"the limit is {_megapixels(max_pixels)}"
    )


def open_photo(source: Path | IO[bytes], max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a photo by its content, refusing anything outside the accepted formats.

    Only the header is read here: the pixel count is checked before any
    decoding work, so a decompression bomb costs nothing.
    """
    try:
        image = Image.open(source, formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        raise PhotoError(_refusal(_head(source))) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own, larger limit; a warning only reaches here as an error.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else 0
        raise PhotoError(
            f"the photo has {_megapixels(pixels)} megapixels; "
            f"the limit is {_megapixels(max_pixels)}"
        ) from None
    except OSError as exc:
        # Pillow's plugins raise OSError for bad data (no errno) as well as
        # the system for a failed read (with one).
        raise PhotoError(
            f"the photo cannot be read ({exc})", transient=exc.errno is not None
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _too_many_pixels(width, height, max_pixels)
    return image


def inspect_photo(source: Path | IO[bytes], max_pixels: int = MAX_PIXELS) -> PhotoInfo:
    """Check a photo fully: the format, the size, and that every pixel decodes."""
    with _WORK_SLOTS, open_photo(source, max_pixels) as image:
        _decoding(image.load)
        return PhotoInfo(image.format or "?", *_upright_size(image))


def _decoding(work, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run decoding work, turning whatever a damaged file makes Pillow raise into a PhotoError."""
    try:
        return work(*args, **kwargs)
    except PhotoError:
        raise
    except MemoryError:
        raise PhotoError("the photo is too big to open on this server", transient=True) from None
    except Exception as exc:
        # A corrupt file can make a decoder raise almost anything (OSError,
        # SyntaxError, ValueError, struct.error, EOFError…); none of it may
        # take down the request or the worker. An OSError with an errno is
        # the system failing to read, not the photo.
        transient = isinstance(exc, OSError) and exc.errno is not None
        raise PhotoError(
            f"the photo is damaged or cut short ({exc})", transient=transient
        ) from None


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block must not lose the photo: show it as stored
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """The size once upright, from the header alone: a PNG whose EXIF comes after
    its pixels counts as upright here rather than being decoded to find out."""
    width, height = image.size
    if image.format == "PNG" and "exif" not in image.info:
        return width, height
    return (height, width) if _orientation(image) in _SIDEWAYS else (width, height)


@dataclass
class _Decoded:
    """A photo decoded and shrunk, still as stored: not yet upright or in sRGB."""

    image: Image.Image
    icc: bytes | None
    orientation: int


# Given a photo's upright size, the upright size it is wanted at.
Fit = Callable[[tuple[int, int]], tuple[int, int]]


def _fit(upright: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """`upright` scaled to fit inside `box`, never enlarged."""
    width, height = upright
    scale = min(box[0] / width, box[1] / height)
    if scale >= 1:
        return upright
    return (
        max(1, min(box[0], round(width * scale))),
        max(1, min(box[1], round(height * scale))),
    )


def rendition_size(upright: tuple[int, int], size: int) -> tuple[int, int]:
    """The upright width and height of rendition `size` of a photo `upright` big.

    A screen's size fits that screen turned to the photo (a square photo
    counts as landscape); any other size is at most that wide and twice that
    tall. None is bigger than the largest screen, nor than the photo itself.
    """
    width, height = upright

    def turned(box: tuple[int, int]) -> tuple[int, int]:
        return box if width >= height else (box[1], box[0])

    box = turned(SCREENS[size]) if size in SCREENS else (size, 2 * size)
    largest = turned(LARGEST_SCREEN)
    return _fit(upright, (min(box[0], largest[0]), min(box[1], largest[1])))


def _within_width(width: int | None) -> Fit | None:
    if not width:
        return None
    return lambda upright: _fit(upright, (width, upright[1]))


def _stored_target(stored: tuple[int, int], orientation: int, fit: Fit | None) -> tuple[int, int]:
    """The stored-orientation size that `fit` wants once upright."""
    if fit is None:
        return stored
    if orientation in _SIDEWAYS:
        height, width = fit((stored[1], stored[0]))
        return width, height
    return fit(stored)


def _decode(image: Image.Image, fit: Fit | None) -> _Decoded:
    """Decode the first frame, shrunk to the size `fit` wants for it once upright."""
    stored = image.size
    box = (0.0, 0.0, float(stored[0]), float(stored[1]))
    if fit is not None and isinstance(image, JpegImagePlugin.JpegImageFile):
        # DCT scaling: the decoder itself produces 1/2, 1/4 or 1/8 of the
        # size, never less than the target, for a fraction of the work.
        target = _stored_target(stored, _orientation(image), fit)
        drafted = image.draft("RGB", target) if target != stored else None
        if drafted is not None:
            box = tuple(float(v) for v in drafted[1])  # type: ignore[assignment]
    image.seek(0)  # the first frame of an animation
    image.load()
    orientation = _orientation(image)  # a PNG may keep its EXIF after the pixels
    target = _stored_target(stored, orientation, fit)
    icc = image.info.get("icc_profile") or None
    work = _workable(image)
    if target != work.size:
        work = _shrink(work, target, box)
    return _Decoded(work, icc, orientation)


def _workable(image: Image.Image) -> Image.Image:
    """The image in a mode that resizes well: L, RGB, CMYK, or premultiplied La/RGBa."""
    mode = image.mode
    if "transparency" in image.info or mode in ("P", "PA", "1"):
        has_alpha = "transparency" in image.info or mode == "PA"
        image = image.convert("RGBA" if has_alpha else ("L" if mode == "1" else "RGB"))
        mode = image.mode
    if mode.startswith("I") or mode == "F":  # 16- and 32-bit greyscale
        return image.point(lambda v: v / 256).convert("L")
    if mode in ("RGBa", "La"):
        return image
    if mode in ("RGBA", "LA"):
        if image.getextrema()[-1] == (255, 255):  # an alpha channel that hides nothing
            return image.convert(mode[:-1] if mode == "LA" else "RGB")
        # Premultiplied once here, rather than by every banded resize below.
        return image.convert(mode[:-1] + "a")
    if mode in ("RGB", "L", "CMYK"):
        return image
    return image.convert("RGB")  # YCbCr, LAB, HSV…


def _shrink(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float]
) -> Image.Image:
    """Resize `box` of `image` to `size`, in bands, so that no second full-size image exists.

    Pillow's resize filters horizontally into a temporary image as tall as
    the source; done in one call on a 12-megapixel photo, that temporary
    costs tens of MB. Each band reads the source rows it needs, filter
    support included, so there are no seams: the result is that of one big
    resize, within a level or two of rounding.
    """
    width, height = size
    x0, y0, x1, y1 = box
    factor = min((x1 - x0) / width, (y1 - y0) / height)
    reduce_by = int(factor / _REDUCING_GAP)
    if reduce_by > 1:
        # A big PNG or WebP (a JPEG has shrunk in its decoder already):
        # box-average by an integer factor first, as Pillow's reducing_gap
        # does, then resample the rest of the way.
        image = image.reduce(reduce_by)
        x0, y0, x1, y1 = (v / reduce_by for v in box)
        x1, y1 = min(x1, image.width), min(y1, image.height)
    if image.width * image.height <= 2 * _BAND_PIXELS:
        return image.resize(size, _RESAMPLE, box=(x0, y0, x1, y1))
    out = Image.new(image.mode, size, None)  # every pixel is pasted over: no fill
    step = (y1 - y0) / height
    rows = max(16, _BAND_PIXELS // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = image.resize(
            (width, bottom - top), _RESAMPLE, box=(x0, y0 + top * step, x1, y0 + bottom * step)
        )
        out.paste(band, (0, top))
    return out


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    # Building a transform costs milliseconds; most photos share a handful
    # of profiles (sRGB, Display P3, Adobe RGB, a print CMYK).
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.buildTransform(profile, _SRGB, in_mode, out_mode)


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Colours in sRGB, as RGB or RGBA; an embedded profile is honoured when it fits."""
    if image.mode in ("RGBa", "La"):
        image = image.convert("RGBA" if image.mode == "RGBa" else "LA")
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else None
    colour = image.convert(image.mode[:-1]) if alpha is not None else image
    if icc:
        out_mode = "RGB"
        try:
            transform = _transform(icc, colour.mode, out_mode)
            colour = ImageCms.applyTransform(colour, transform) or colour
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
            log.info("ignoring a colour profile that does not fit the photo: %s", exc)
    if colour.mode != "RGB":
        colour = colour.convert("RGB")  # no profile: CMYK and grey by the usual formulas
    if alpha is not None:
        colour.putalpha(alpha)
    return colour


def _flatten(image: Image.Image) -> Image.Image:
    """Transparent parts on white, for formats with no alpha channel."""
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, _FLATTEN_ON)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _finish(decoded: _Decoded, *, keep_alpha: bool) -> Image.Image:
    """sRGB, upright, flattened unless `keep_alpha`, and carrying no metadata at all."""
    image = _to_srgb(decoded.image, decoded.icc)
    if not keep_alpha:
        image = _flatten(image)
    method = _UPRIGHT.get(decoded.orientation)
    if method is not None:
        image = image.transpose(method)
    image.info = {}  # EXIF with GPS, XMP, comments, the colour profile: none goes out
    return image


def normalize(
    image: Image.Image, width: int | None = None, *, keep_alpha: bool = False
) -> Image.Image:
    """Upright, sRGB, at most `width` wide, metadata dropped; a new image.

    Transparency is flattened onto white unless `keep_alpha`. JPEGs are
    shrunk by the decoder when `image` has not been loaded yet.
    """
    decoded = _decoding(_decode, image, _within_width(width))
    if decoded.image is image:  # nothing to change but the metadata: leave the caller's alone
        decoded.image = image.copy()
    return _finish(decoded, keep_alpha=keep_alpha)


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode a normalized image as a rendition in `fmt` (webp or jpg), with no metadata."""
    kind, options = _SAVE[fmt]
    return _save(image, kind, options)


def _save(image: Image.Image, kind: str, options: dict[str, object]) -> bytes:
    if image.info:  # the JPEG writer copies a comment from info: take no chance
        image = image.copy()
        image.info = {}
    if kind == "JPEG":
        image = _flatten(image)
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def _render(source: Path | IO[bytes], fit: Fit | None, max_pixels: int) -> Image.Image:
    """Open, decode and shrink to what `fit` wants, free the original, then finish (alpha kept)."""
    with _WORK_SLOTS:
        with open_photo(source, max_pixels) as image:  # closes the file, keeps the pixels
            decoded = _decoding(_decode, image, fit)
        if decoded.image is not image:
            # Free the decoded original before going on: it is the biggest
            # thing here (unless, already small enough, it is the result).
            image.close()
        return _decoding(_finish, decoded, keep_alpha=True)


def prepare_upload(data: bytes, max_pixels: int = MAX_PIXELS, width: int = 3840) -> bytes:
    """Turn an uploaded photo into the JPEG that is saved in its story bundle.

    The original never reaches the stories folder: what is kept is upright,
    sRGB, at most `width` wide, and carries no metadata (no GPS, no EXIF).
    Raises PhotoError with a message for the person who sent it.
    """
    image = _render(io.BytesIO(data), _within_width(width), max_pixels)
    return _decoding(_save, image, *_SAVE_UPLOAD)


def content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with os.fdopen(open_plain(path), "rb") as f:  # a pipe put in a photo's place: refused
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stat_token(path: Path) -> str:
    """A short token that changes whenever the file, or the way it is rendered, does."""
    st = path.stat()
    raw = f"{RENDITION_VERSION}:{st.st_mtime_ns}:{st.st_size}:{st.st_ino}".encode()
    return hashlib.blake2b(raw, digest_size=6).hexdigest()


class PhotoCache:
    """Renditions on disk, made once per content and size, safe across threads and processes.

    A rendition is written to a temp file and renamed into place, so a
    reader finds the whole file or none. Making one holds a lock (a thread
    lock, and `flock` on a file beside it for other worker processes);
    whoever waited finds the file made and uses it. A photo is never
    enlarged: every size that it fits as it is links to one file of the
    photo at its own size.

    `prepare()` makes every rendition of a photo and records it, so that
    `preparation()` can say, from two stats, whether a photo is ready.
    """

    def __init__(self, folder: Path, max_pixels: int = MAX_PIXELS) -> None:
        self.folder = Path(folder)
        self.max_pixels = max_pixels
        self.made = 0  # renditions this cache has encoded, for tests and the CLI
        self._hashes: dict[tuple[str, int, int, int], str] = {}
        self._failures: dict[str, str] = {}
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._guard = threading.Lock()

    def _hash(self, source: Path) -> str:
        st = source.stat()
        key = (str(source), st.st_mtime_ns, st.st_size, st.st_ino)
        digest = self._hashes.get(key)
        if digest is None:
            digest = content_hash(source)
            if len(self._hashes) > 4096:  # edited photos leave stale keys behind
                self._hashes.clear()
            self._hashes[key] = digest
        return digest

    def path_for(self, digest: str, size: int | None, fmt: str) -> Path:
        """Where rendition `size` of the content `digest` is kept; None: the photo's own size."""
        name = f"{digest}-{size or 'full'}.{fmt}"
        return self.folder / f"v{RENDITION_VERSION}" / digest[:2] / name

    def rendition(self, source: Path, size: int, fmt: str) -> Path:
        """The path of `source` at `size` (see `rendition_size`) in `fmt`, made first if needed.

        Raises PhotoError for a photo that cannot be shown, OSError when
        `source` cannot be read.
        """
        if fmt not in _SAVE:
            raise PhotoError(f"unknown rendition format {fmt!r}")
        if size < 1:
            raise PhotoError(f"no rendition is {size} pixels wide")
        return self._renditions(source, size, (fmt,))[0]

    def prepare(self, source: Path) -> int:
        """Make every missing rendition of `source`, then record it as prepared; how many were made.

        For background work: each rendition is encoded before its lock is
        taken, so that a request for it never waits behind this work (at
        worst both make it once), while a second preparer of the same photo,
        in any process, waits for the first and finds it done. The smaller
        sizes first: the quickest, and between them they serve the intranet
        and the usual 1080p screen. A photo that cannot be shown is recorded
        too, with the reason, and raises PhotoError.
        """
        marker = self._marker(source)
        with self._exclusive(marker.parent, marker.name):
            before = self.made
            try:
                for size in SIZES:
                    self._renditions(source, size, FORMATS, background=True)
            except PhotoError as exc:
                if not exc.transient:
                    self._record(marker, str(exc))
                raise
            self._record(marker, "")
            return self.made - before

    @staticmethod
    def _record(marker: Path, outcome: str) -> None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(marker, outcome.encode())

    def preparation(self, source: Path) -> str | None:
        """None until `prepare()` has done this state of `source`; then "" when every
        rendition is on disk, or why the photo cannot be shown. OSError if it is gone."""
        try:
            return self._marker(source).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None

    def _marker(self, source: Path) -> Path:
        # Named by the file's path and stat, not its content: asking costs no
        # read of the photo, and an edited or moved photo is a new one.
        st = source.stat()
        key = f"{source}:{st.st_mtime_ns}:{st.st_size}:{st.st_ino}".encode()
        name = hashlib.blake2b(key, digest_size=16).hexdigest()
        return self.folder / f"v{RENDITION_VERSION}" / "prepared" / name[:2] / name

    def _renditions(
        self, source: Path, size: int, fmts: tuple[str, ...], *, background: bool = False
    ) -> list[Path]:
        digest = self._hash(source)
        targets = [self.path_for(digest, size, fmt) for fmt in fmts]
        if all(target.exists() for target in targets):
            return targets
        if digest in self._failures:  # a bad photo is refused fast, not decoded on every request
            raise PhotoError(self._failures[digest])
        try:
            with open_photo(source, self.max_pixels) as image:
                upright = _upright_size(image)
            if rendition_size(upright, size) == upright:
                # Never enlarged: every size the photo fits is the photo at its own size.
                fulls = self._make(source, digest, None, fmts, background=background)
                return [self._link(f, t) for f, t in zip(fulls, targets, strict=True)]
            return self._make(source, digest, size, fmts, background=background)
        except PhotoError as exc:
            if not exc.transient:
                with self._guard:
                    if len(self._failures) > 1024:
                        self._failures.clear()
                    self._failures[digest] = str(exc)
            raise

    def _make(
        self,
        source: Path,
        digest: str,
        size: int | None,
        fmts: tuple[str, ...],
        *,
        background: bool = False,
    ) -> list[Path]:
        targets = [self.path_for(digest, size, fmt) for fmt in fmts]
        fit = None if size is None else functools.partial(rendition_size, size=size)
        encoded: dict[str, bytes] = {}
        if background:
            wanted = [fmt for fmt, t in zip(fmts, targets, strict=True) if not t.exists()]
            if wanted:
                image = _render(source, fit, self.max_pixels)
                encoded = {fmt: _decoding(encode, image, fmt) for fmt in wanted}
                del image
        with self._exclusive(targets[0].parent, targets[0].stem):
            missing = [(fmt, t) for fmt, t in zip(fmts, targets, strict=True) if not t.exists()]
            if any(fmt not in encoded for fmt, _ in missing):
                image = _render(source, fit, self.max_pixels)
                for fmt, _ in missing:
                    encoded.setdefault(fmt, _decoding(encode, image, fmt))
            for fmt, target in missing:
                write_atomic(target, encoded[fmt])
                with self._guard:
                    self.made += 1
        return targets

    @staticmethod
    def _link(full: Path, target: Path) -> Path:
        try:
            os.link(full, target)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: serve the full-size file
            return full
        return target

    @contextlib.contextmanager
    def _exclusive(self, folder: Path, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = threading.Lock()
        with lock:
            folder.mkdir(parents=True, exist_ok=True)
            # Another worker process may be making the same rendition right now;
            # the lock goes with the file descriptor when it is closed.
            with (folder / f".{name}.lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                yield
