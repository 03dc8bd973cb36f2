"""Photos: any phone or camera picture in, an upright, metadata-free rendition out.

Browsers never get an original file. Every photo is re-encoded into a few
widths, with the EXIF orientation applied, colours converted to sRGB and all
metadata (EXIF with GPS, XMP, IPTC, comments) left behind. Renditions are
cached by content hash in the instance folder, outside `stories/`, so the
watcher never sees them.
"""

from __future__ import annotations

import colorsys
import fcntl
import hashlib
import io
import logging
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from .files import write_atomic

log = logging.getLogger(__name__)

WIDTHS = (480, 960, 1920, 3840)
MAX_PIXELS = 50_000_000
# Content types browsers are sent, by rendition file extension.
RENDITION_TYPES = {"webp": "image/webp", "jpg": "image/jpeg"}
_SAVE = {
    "webp": ("WEBP", {"quality": 80, "method": 3}),
    "jpg": ("JPEG", {"quality": 84, "optimize": True, "progressive": True}),
}
_SRGB = ImageCms.createProfile("sRGB")

try:  # HEIC/HEIF from iPhones, through the optional extra storywall[heic].
    from pillow_heif import register_heif_opener  # type: ignore[import-not-found]

    register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:
    HEIF_AVAILABLE = False

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "AVIF") + (("HEIF",) if HEIF_AVAILABLE else ())
ACCEPTED_LABEL = "JPEG, PNG, WebP, GIF, AVIF" + (" or HEIC" if HEIF_AVAILABLE else "")


class PhotoError(ValueError):
    """A photo that cannot be shown, with a message for the person who gave it."""


@dataclass(frozen=True)
class PhotoInfo:
    format: str
    width: int
    height: int


def _signature(data: bytes) -> str | None:
    """Recognise HEIC by content, to say how to enable it when the extra is missing."""
    if data[4:8] == b"ftyp" and data[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}:
        return "HEIF"
    return None


def open_photo(source: Path | IO[bytes], max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a photo by its content, refusing anything outside the accepted formats.

    Only the header is read here: the pixel count is checked before any
    decoding work, so a decompression bomb costs nothing.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source, formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        head = _head(source)
        if _signature(head) == "HEIF" and not HEIF_AVAILABLE:
            raise PhotoError(
                "this is a HEIC photo; install storywall[heic] to accept it, or send it as JPEG"
            ) from None
        raise PhotoError(f"not a photo we can use; send {ACCEPTED_LABEL}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("the photo has too many pixels to be safe to open") from None
    except OSError as exc:
        raise PhotoError(f"the photo cannot be read ({exc})") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise PhotoError(
            f"the photo is {width}×{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:.0f}"
        )
    return image


def _head(source: Path | IO[bytes]) -> bytes:
    if isinstance(source, Path):
        with source.open("rb") as f:
            return f.read(32)
    source.seek(0)
    return source.read(32)


def inspect_photo(source: Path | IO[bytes], max_pixels: int = MAX_PIXELS) -> PhotoInfo:
    """Check a photo fully: the format, the size, and that every pixel decodes."""
    with open_photo(source, max_pixels) as image:
        info = PhotoInfo(image.format or "?", *image.size)
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoError(f"the photo is damaged or cut short ({exc})") from None
    return info


def normalize(image: Image.Image, width: int | None = None) -> Image.Image:
    """Upright, sRGB, no transparency, at most `width` wide; metadata dropped."""
    if width and image.format == "JPEG":
        # DCT scaling: decode a big JPEG at 1/2, 1/4 or 1/8 size directly.
        # The orientation may swap the sides, so ask for enough of both.
        w, h = image.size
        scale = width / min(w, h) if _turns_sideways(image) else width / w
        if scale < 1:
            image.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
    image.seek(0)  # the first frame of an animation
    image.load()
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    converted = _to_srgb(upright, icc)
    if width and converted.width > width:
        height = round(converted.height * width / converted.width)
        converted = converted.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return converted


def _turns_sideways(image: Image.Image) -> bool:
    return image.getexif().get(0x0112, 1) in (5, 6, 7, 8)


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if icc and image.mode in ("RGB", "CMYK", "L"):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, profile, _SRGB, outputMode="RGB") or image
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.info("ignoring a broken colour profile: %s", exc)
    if image.mode.startswith("I"):  # 16- and 32-bit greyscale
        image = image.point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def encode(image: Image.Image, fmt: str) -> bytes:
    kind, options = _SAVE[fmt]
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def prepare_upload(data: bytes, max_pixels: int = MAX_PIXELS, width: int = 3840) -> bytes:
    """Turn an uploaded photo into the JPEG that is saved in its story bundle.

    The original never reaches the stories folder: what is kept is upright,
    sRGB, at most `width` wide, and carries no metadata (no GPS, no EXIF).
    Raises PhotoError with a message for the person who sent it.
    """
    with open_photo(io.BytesIO(data), max_pixels) as image:
        try:
            return encode(normalize(image, width), "jpg")
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoError(f"the photo is damaged or cut short ({exc})") from None


def content_hash(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stat_token(path: Path) -> str:
    """A short token that changes whenever the file does: for cache-busting URLs."""
    st = path.stat()
    raw = f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}".encode()
    return hashlib.blake2b(raw, digest_size=6).hexdigest()


class PhotoCache:
    """Renditions on disk, made once per content and width, safe across processes."""

    def __init__(self, folder: Path, max_pixels: int = MAX_PIXELS) -> None:
        self.folder = Path(folder)
        self.max_pixels = max_pixels
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _hash(self, source: Path) -> str:
        st = source.stat()
        key = (str(source), st.st_mtime_ns, st.st_size)
        digest = self._hashes.get(key)
        if digest is None:
            digest = content_hash(source)
            self._hashes[key] = digest
        return digest

    def rendition(self, source: Path, width: int, fmt: str) -> Path:
        """The path of `source` at `width` in `fmt`, making it first if needed."""
        if fmt not in _SAVE:
            raise PhotoError(f"unknown rendition format {fmt!r}")
        digest = self._hash(source)
        target = self.folder / digest[:2] / f"{digest}-{width}.{fmt}"
        if target.exists():
            return target
        with self._lock_for(target.name):
            target.parent.mkdir(parents=True, exist_ok=True)
            with (target.parent / f".{target.name}.lock").open("w") as lock:
                # Another worker process may be making the same file right now.
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    if not target.exists():
                        self._make(source, target, width, fmt)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        return target

    def _lock_for(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def _make(self, source: Path, target: Path, width: int, fmt: str) -> None:
        with open_photo(source, self.max_pixels) as image:
            try:
                data = encode(normalize(image, width), fmt)
            except (OSError, SyntaxError, ValueError) as exc:
                raise PhotoError(f"the photo is damaged or cut short ({exc})") from None
        write_atomic(target, data)

    def pregenerate(self, source: Path, fmts: Iterable[str] = ("webp", "jpg")) -> None:
        for width in WIDTHS:
            for fmt in fmts:
                self.rendition(source, width, fmt)


def portrait_colors(name: str) -> tuple[str, str]:
    """A background and text colour for an initials portrait, the same for a name every time.

    Hues vary with the name; lightness is fixed low enough that white
    initials keep a contrast above 4.5:1.
    """
    hue = int(hashlib.blake2b(name.casefold().encode(), digest_size=2).hexdigest(), 16) % 360
    r, g, b = colorsys.hls_to_rgb(hue / 360, 0.32, 0.45)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}", "#ffffff"


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a cut-short photo is an error, never half a face
