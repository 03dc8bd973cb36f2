"""Gzip of a document made of pieces, compressing again only the pieces that changed.

A playlist of ten thousand stories is five megabytes; compressing all of it
again after each edit costs tens of milliseconds, most of the edit's cost.
Each piece is deflated on its own (from an empty window) and flushed to a byte
boundary without ending the stream, so pieces can be joined in any order into
one valid deflate stream: nothing in a piece refers to anything before it.
The gzip header, an empty last block and the trailer (the CRC and length of
the whole document) wrap them. Pieces are kept by a digest of their bytes.

The same pieces always give the same bytes, so every worker sends the same
gzip for the same playlist (its strong ETag promises that).
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections.abc import Hashable, Iterable

LEVEL = 6
# What gzip.compress(..., mtime=0) writes: deflate, no name, no time, unknown system.
HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
LAST_BLOCK = b"\x03\x00"  # an empty final block with fixed codes: the stream's end


def deflated(piece: bytes) -> bytes:
    """`piece` as raw deflate blocks that end on a byte boundary, the stream left open."""
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH)


class GzipPieces:
    """Deflated pieces kept between versions of a document.

    Pieces used since the last `new_version()` are kept, and those of the
    version before it, for screens still being built for it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[bytes, bytes] = {}
        self._before: dict[bytes, bytes] = {}
        self._version: Hashable = None

    def new_version(self, version: Hashable) -> None:
        with self._lock:
            if version != self._version:
                self._version, self._before, self._used = version, self._used, {}

    def gzip(self, pieces: Iterable[bytes], document: bytes) -> bytes:
        """Gzip of `document`, which is `pieces` joined."""
        out = [HEADER]
        for piece in pieces:
            key = hashlib.blake2b(piece, digest_size=16).digest()
            with self._lock:
                packed = self._used.get(key) or self._before.get(key)
            if packed is None:
                packed = deflated(piece)
            with self._lock:
                self._used[key] = packed
            out.append(packed)
        out.append(LAST_BLOCK)
        out.append(struct.pack("<II", zlib.crc32(document), len(document) & 0xFFFFFFFF))
        return b"".join(out)
