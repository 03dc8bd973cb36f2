"""Gzip from separately compressed pieces: one valid stream, the same bytes every time."""

from __future__ import annotations

import gzip
import random
import zlib

from wall.web.gzipped import GzipPieces


def pieces(seed: int, count: int = 40) -> list[bytes]:
    rng = random.Random(seed)
    words = [b"story", b"Maria", b"foreman", b'"slug":', b"{", b"}", b",", b"Dayton", b"\xc3\xa9"]
    return [b" ".join(rng.choice(words) for _ in range(rng.randint(0, 400))) for _ in range(count)]


def test_joined_pieces_are_one_gzip_stream_any_reader_reads() -> None:
    parts = pieces(1)
    document = b"".join(parts)
    packed = GzipPieces().gzip(parts, document)
    assert gzip.decompress(packed) == document
    assert zlib.decompress(packed, wbits=31) == document
    reader = zlib.decompressobj(wbits=31)  # a byte at a time, as a slow network delivers it
    assert b"".join(reader.decompress(packed[n : n + 1]) for n in range(len(packed))) == document
    assert reader.eof


def test_kept_pieces_give_the_bytes_a_fresh_compression_gives() -> None:
    kept = GzipPieces()
    parts = pieces(2)
    kept.gzip(parts, b"".join(parts))
    parts[7] = b"an edited piece"
    del parts[20]
    parts.insert(3, b"a new piece")
    kept.new_version(2)
    again = kept.gzip(parts, b"".join(parts))
    assert again == GzipPieces().gzip(parts, b"".join(parts))
    assert gzip.decompress(again) == b"".join(parts)


def test_empty_pieces_and_an_empty_document() -> None:
    assert gzip.decompress(GzipPieces().gzip([], b"")) == b""
    assert gzip.decompress(GzipPieces().gzip([b"", b"x", b""], b"x")) == b"x"
