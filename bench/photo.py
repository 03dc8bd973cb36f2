"""Photo pipeline: a 12-megapixel phone JPEG to the rendition a 1080p screen uses.

The "1920" rendition fits a 1080p screen turned to the photo: 1920x1080 for a
landscape photo, 1080x1920 for a portrait one (wall/photos.py). Every size
of both photos is listed too, with a check that none is bigger than
3840x2160 or 2160x3840, and the time to prepare them all, as the background
warmer does for each new photo.

The baseline, measured in the same run, is the fastest way plain Pillow can
be found to make the same picture: the same output size, format, encoder
settings and resampling filter, with the photo turned upright where the
EXIF says so, written to a file. The pipeline does more than that (content
hash, locks, colour management, metadata stripping, an atomic, fsynced
write); the claim is that all of it costs at most half again.

Every measurement runs in a fresh Python process pinned to one core. Peak
memory is the process's peak resident size (VmHWM) after the work minus the
same figure just before it: that sees Pillow's C allocations, which
tracemalloc does not. (ru_maxrss would be simpler, but Linux carries the
parent's peak over into a child's across fork and exec, so a child of a big
process reads the parent's figure.) The ways are measured in interleaved
rounds, so that a burst of load from elsewhere on a shared machine is
spread over all of them rather than landing on one.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageStat

from wall import photos

ROOT = Path(__file__).resolve().parent.parent
SIZE = (4032, 3024)  # 12.2 MP, the size of most phone cameras' photos
WIDTH = 1920  # the rendition a 1080p screen asks for
ROUNDS = 5  # fresh processes per way, interleaved
REPEATS = 3  # timed runs in each
CASES = {
    # A phone held sideways: stored as it is shown.
    "landscape": 1,
    # A phone held upright: stored sideways, with EXIF orientation 6: the
    # usual case for a portrait of a person. Its 1080p rendition is 1080x1440.
    "portrait": 6,
}
GOAL_MS, GOAL_MB, GOAL_RATIO = 200, 80, 1.5


def make_photo(folder: Path, orientation: int) -> Path:
    """A phone-like 12 MP JPEG: textured content, EXIF with GPS, a comment; reused between runs."""
    path = folder / f"phone-{orientation}.jpg"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fractal = Image.effect_mandelbrot(SIZE, (-2.2, -1.2, 1.0, 1.2), 60)
    noise = Image.effect_noise(SIZE, 40)
    picture = Image.merge(
        "RGB",
        (
            Image.blend(fractal, noise, 0.35),
            Image.blend(Image.linear_gradient("L").resize(SIZE), noise, 0.3),
            Image.blend(Image.radial_gradient("L").resize(SIZE), fractal, 0.5),
        ),
    ).filter(ImageFilter.GaussianBlur(1))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Phone maker", "Phone 12", orientation
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (39.0, 45.0, 30.0), "W", (84.0, 11.0, 40.0)
    picture.save(path, "JPEG", quality=92, exif=exif, comment=b"taken at the customer's home")
    return path


# Plain-Pillow ways to make the same rendition. Each takes the source, the
# target path and the format, and writes the file.
def _save(image: Image.Image, target: Path, fmt: str) -> None:
    kind, options = photos._SAVE[fmt]
    image.save(target, kind, **options)


def _size_for(image: Image.Image) -> tuple[int, int]:
    """The stored-orientation size the rendition has, before it is turned upright."""
    fit = functools.partial(photos.rendition_size, size=WIDTH)
    return photos._stored_target(image.size, photos._orientation(image), fit)


def thumbnail(source: Path, target: Path, fmt: str) -> None:
    """Image.thumbnail (draft with reducing_gap 2, then resize), then exif_transpose."""
    with Image.open(source) as image:
        image.thumbnail(_size_for(image), photos._RESAMPLE)
        _save(ImageOps.exif_transpose(image), target, fmt)


def thumbnail_gap3(source: Path, target: Path, fmt: str) -> None:
    """Image.thumbnail with reducing_gap 3."""
    with Image.open(source) as image:
        image.thumbnail(_size_for(image), photos._RESAMPLE, reducing_gap=3.0)
        _save(ImageOps.exif_transpose(image), target, fmt)


def draft_resize(source: Path, target: Path, fmt: str) -> None:
    """draft() straight to the target size, resize(), transpose()."""
    with Image.open(source) as image:
        size = _size_for(image)
        orientation = photos._orientation(image)
        image.draft("RGB", size)
        out = image.resize(size, photos._RESAMPLE)
    method = photos._UPRIGHT.get(orientation)
    _save(out.transpose(method) if method else out, target, fmt)


def draft_thumbnail(source: Path, target: Path, fmt: str) -> None:
    """draft() straight to the target size, then thumbnail() with no reducing gap."""
    with Image.open(source) as image:
        size = _size_for(image)
        image.draft("RGB", size)
        image.thumbnail(size, photos._RESAMPLE, reducing_gap=None)
        _save(ImageOps.exif_transpose(image), target, fmt)


def full_resize(source: Path, target: Path, fmt: str) -> None:
    """No draft: a full decode, resize() with reducing_gap 2."""
    with Image.open(source) as image:
        size = _size_for(image)
        out = ImageOps.exif_transpose(image.resize(size, photos._RESAMPLE, reducing_gap=2.0))
    _save(out, target, fmt)


def transpose_first(source: Path, target: Path, fmt: str) -> None:
    """The obvious order: exif_transpose(), then thumbnail()."""
    with Image.open(source) as opened:
        image = ImageOps.exif_transpose(opened)
    image.thumbnail(photos.rendition_size(image.size, WIDTH), photos._RESAMPLE)
    _save(image, target, fmt)


PLAIN: dict[str, Callable[[Path, Path, str], None]] = {
    way.__name__: way
    for way in (
        thumbnail,
        thumbnail_gap3,
        draft_resize,
        draft_thumbnail,
        full_resize,
        transpose_first,
    )
}


def pipeline(source: Path, target: Path, fmt: str) -> None:
    """Story Wall: PhotoCache.rendition() on an empty cache, as on a first request."""
    # A new cache folder each time (removed with the scratch folder, untimed).
    folder = Path(tempfile.mkdtemp(dir=target.parent))
    os.replace(photos.PhotoCache(folder).rendition(source, WIDTH, fmt), target)


def _prepare(source: Path, folder: Path) -> dict[str, object]:
    """In this (fresh) process: every rendition of `source`, as the background warmer makes them."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    cache = photos.PhotoCache(folder)
    before = _peak_rss_mb()
    started = time.perf_counter()
    made = cache.prepare(source)
    seconds = time.perf_counter() - started
    renditions = {}
    for size in photos.SIZES:
        row = {}
        for fmt in photos.FORMATS:
            path = cache.rendition(source, size, fmt)
            with Image.open(path) as image:
                row[fmt] = [*image.size, path.stat().st_size]
        renditions[str(size)] = row
    peak = _peak_rss_mb() - before
    return {"seconds": seconds, "peak_mb": peak, "made": made, "sizes": renditions}


def _within_screens(width: int, height: int) -> bool:
    largest = photos.LARGEST_SCREEN
    return (width <= largest[0] and height <= largest[1]) or (
        width <= largest[1] and height <= largest[0]
    )


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(way: str, source: Path, fmt: str, target: Path, repeats: int) -> dict[str, object]:
    """In this (fresh) process: the peak memory of one run, then the times of `repeats` more."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    work = pipeline if way == "pipeline" else PLAIN[way]
    # Load the decoders, encoders and colour engine on a tiny photo first,
    # so that only the work on the big one is counted.
    tiny = io.BytesIO()
    Image.new("RGB", (64, 48), "gray").save(tiny, "JPEG")
    warm_source = target.with_name(f"warm-{os.getpid()}.jpg")
    warm_source.write_bytes(tiny.getvalue())
    work(warm_source, target.with_name(f"warm-{os.getpid()}.{fmt}"), fmt)
    before = _peak_rss_mb()
    work(source, target, fmt)
    peak = _peak_rss_mb() - before
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work(source, target, fmt)
        times.append((time.perf_counter() - started) * 1000)
    return {"times_ms": times, "peak_mb": peak, "process_mb": before}


def _in_fresh_process(way: str, source: Path, fmt: str, target: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.photo", way, str(source), fmt, str(target), str(REPEATS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def _psnr(a: Path, b: Path) -> float:
    with Image.open(a) as x, Image.open(b) as y:
        if x.size != y.size:
            return 0.0
        rms = ImageStat.Stat(ImageChops.difference(x.convert("RGB"), y.convert("RGB"))).rms
    mse = sum(v * v for v in rms) / 3
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


METADATA = ("exif", "xmp", "icc_profile", "comment")


def _compare(source: Path, fmt: str, out: Path) -> dict[str, object]:
    """Every way on one photo and format: interleaved rounds, then a row per way."""
    ways = ["pipeline", *PLAIN]
    times: dict[str, list[float]] = {way: [] for way in ways}
    peaks: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(ROUNDS):
        for way in ways:
            measured = _in_fresh_process(way, source, fmt, out / f"{way}.{fmt}")
            times[way] += measured["times_ms"]
            peaks[way].append(measured["peak_mb"])
    rows = {}
    for way in ways:
        target = out / f"{way}.{fmt}"
        with Image.open(target) as made:
            metadata, size = [k for k in METADATA if k in made.info], list(made.size)
        ordered = sorted(times[way])
        rows[way] = {
            "median_ms": ordered[len(ordered) // 2],
            "best_ms": ordered[0],
            "peak_mb": max(peaks[way]),
            "size": size,
            "bytes": target.stat().st_size,
            "metadata": metadata,
        }
    fastest = min(PLAIN, key=lambda w: rows[w]["median_ms"])
    rows["pipeline"]["psnr_vs_fastest"] = _psnr(out / f"pipeline.{fmt}", out / f"{fastest}.{fmt}")
    return {"fastest": fastest, "process_mb": measured["process_mb"], "ways": rows}


def run(data: Path) -> dict[str, object]:
    cases: dict[str, object] = {}
    prepared: dict[str, object] = {}
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        for case, orientation in CASES.items():
            source = make_photo(data / "photo", orientation)
            for fmt in ("webp", "jpg"):
                cases[f"{case}/{fmt}"] = _compare(source, fmt, Path(scratch))
            folder = Path(tempfile.mkdtemp(dir=scratch))
            result = subprocess.run(
                [sys.executable, "-m", "bench.photo", "prepare", str(source), str(folder)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            prepared[case] = json.loads(result.stdout)
    load = f"{before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    return {
        "cases": cases,
        "prepared": prepared,
        "load": load,
        "cpus": len(os.sched_getaffinity(0)),
    }


def report(results: dict) -> str:
    cases = results["cases"]
    lines = [
        "## Photo pipeline (`bench/photo.py`)",
        "",
        f"A {SIZE[0]}×{SIZE[1]} (12 MP) phone-like JPEG, with EXIF, GPS and a comment, to the "
        f"rendition a 1080p screen uses (`{WIDTH}`: the photo fitted to "
        f"{photos.SCREENS[WIDTH][0]}×{photos.SCREENS[WIDTH][1]}, turned to the photo), on one "
        "core, in a fresh process per measurement. The "
        "baseline is the fastest plain-Pillow way found in the same run to make the same "
        "picture (same size, format, encoder settings and "
        f"{photos._RESAMPLE.name.lower()} filter, turned upright). "
        f"Time is the median of {ROUNDS * REPEATS} first requests ({ROUNDS} fresh processes "
        "per way, interleaved; an empty cache each time: hash, decode, shrink, colour, rotate, "
        "encode, atomic write); in brackets the best, which load from elsewhere on the "
        "machine disturbs least. Memory is the peak the work adds to the process (VmHWM), "
        "which includes Pillow's C allocations.",
        "",
        f"| case | format | pipeline | peak memory | fastest plain Pillow | its memory | ratio "
        f"| goal: ≤ {GOAL_MS} ms, ≤ {GOAL_MB} MB, ≤ {GOAL_RATIO}× |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for key, entry in cases.items():
        case, fmt = key.split("/")
        ours, best = entry["ways"]["pipeline"], entry["ways"][entry["fastest"]]
        ratio = ours["median_ms"] / best["median_ms"]
        best_plain = min(entry["ways"][w]["best_ms"] for w in PLAIN)
        ratio_of_bests = ours["best_ms"] / best_plain
        met = {
            "time": ours["median_ms"] <= GOAL_MS,
            "memory": ours["peak_mb"] <= GOAL_MB,
            "ratio": ratio <= GOAL_RATIO,
        }
        lines.append(
            f"| {case} (orientation {CASES[case]}) | {fmt} | {ours['median_ms']:.0f} ms "
            f"({ours['best_ms']:.0f}) | {ours['peak_mb']:.0f} MB | `{entry['fastest']}` "
            f"{best['median_ms']:.0f} ms ({best_plain:.0f}) | {best['peak_mb']:.0f} MB | "
            f"{ratio:.2f}× ({ratio_of_bests:.2f}×) | "
            + ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in met.items())
            + " |"
        )
    lines += [
        "",
        "Every way measured (median time with the best in brackets, peak memory; what the "
        "output still carries):",
        "",
        "| case | format | way | time | memory | output | metadata left |",
        "| --- | --- | --- | ---: | ---: | --- | --- |",
    ]
    for key, entry in cases.items():
        case, fmt = key.split("/")
        for way, row in entry["ways"].items():
            size = "×".join(str(v) for v in row["size"])
            lines.append(
                f"| {case} | {fmt} | `{way}` | {row['median_ms']:.0f} ms ({row['best_ms']:.0f}) | "
                f"{row['peak_mb']:.0f} MB | {size}, {row['bytes'] / 1000:.0f} kB | "
                f"{', '.join(row['metadata']) or 'none'} |"
            )
    lines += [
        "",
        "Every rendition of each photo, as `PhotoCache.prepare()` makes them in the background "
        "(both formats; size, and the WebP's bytes), with the time and peak memory of making "
        "all of them on one core, and whether all fit within "
        f"{photos.LARGEST_SCREEN[0]}×{photos.LARGEST_SCREEN[1]} or "
        f"{photos.LARGEST_SCREEN[1]}×{photos.LARGEST_SCREEN[0]}:",
        "",
        "| photo | "
        + " | ".join(f"`{size}`" for size in photos.SIZES)
        + " | all made in | peak memory | within the largest screen |",
        "| --- | " + " | ".join("---" for _ in photos.SIZES) + " | ---: | ---: | --- |",
    ]
    for case, entry in results.get("prepared", {}).items():
        cells, within = [], True
        for size in photos.SIZES:
            row = entry["sizes"][str(size)]
            width, height, webp_bytes = row["webp"]
            within = within and all(_within_screens(w, h) for w, h, _ in row.values())
            cells.append(f"{width}×{height}, {webp_bytes / 1000:.0f} kB")
        lines.append(
            f"| {case} (orientation {CASES[case]}) | "
            + " | ".join(cells)
            + f" | {entry['seconds'] * 1000:.0f} ms ({entry['made']} files) | "
            f"{entry['peak_mb']:.0f} MB | {'✓' if within else '✗'} |"
        )
    psnrs = ", ".join(
        f"{key} {entry['ways']['pipeline']['psnr_vs_fastest']:.1f} dB"
        for key, entry in cases.items()
    )
    process = next(iter(cases.values()))["process_mb"]
    load = f"{results['load']} (on {results['cpus']} cores)"
    lines += [
        "",
        f"The pipeline's output against the fastest plain way's (PSNR): {psnrs}. "
        f"A measuring process holds {process:.0f} MB before the work (Python, Pillow, the app). "
        f"Load average during the run: {load}.",
        "",
        "The portrait case is the usual one for a photo of a person. Its 1080p rendition "
        "is 1080×1440, no taller than the screen, so the JPEG decoder decodes it at half "
        "size (2016×1512 stored) and the encoder has as many pixels as for the landscape "
        "one. Before renditions were fitted to screens it was 1920×2560, from all 12 MP "
        "decoded, and took about twice the landscape case's time.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        print(json.dumps(_prepare(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        way, source, fmt, target, repeats = sys.argv[1:]
        print(json.dumps(_measure(way, Path(source), fmt, Path(target), int(repeats))))
