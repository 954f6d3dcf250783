"""Blobs: content stored once under its SHA-256, compressed with zstd.

Raw snapshots (the body of a response exactly as the server sent it) and
extracted texts are content-addressed blobs (SHA-256 of the uncompressed
bytes), stored once however often they recur, compressed with zstd (blobs
written before are zlib); a raw snapshot is compressed against its version's
text, which reading it then needs.
"""

from __future__ import annotations

import hashlib
import sys
import zlib

if sys.version_info >= (3, 14):
    from compression import zstd
else:  # the same API, backported
    from backports import zstd

from watcher.errors import StoreError
from watcher.store_base import StoreBase


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# zstd-3: on bench pages as small as zlib-6 at a sixth of its CPU (0.4 ms for
# a 48 KB snapshot, 0.35 ms for a 40 KB text); higher levels gain 2-3% for
# 3-8x the time, and compression runs in the main process.
ZSTD_LEVEL = 3
ZSTD = "zstd"
# A blob compressed with another blob (the version's text) as a zstd raw
# dictionary / prefix: "zstd+text:<sha256 of the dictionary blob>". Reading it
# needs that blob, so a blob must never be pruned before the blobs that name it
# (nothing prunes blobs or versions today).
ZSTD_TEXT_PREFIX = "zstd+text:"
_ZSTD_OPTIONS: dict[int, int] = {
    zstd.CompressionParameter.compression_level: ZSTD_LEVEL,
    # 4 bytes per blob: a damaged blob is an error, not silently wrong bytes
    zstd.CompressionParameter.checksum_flag: 1,
}


# zstd refuses a dictionary shorter than this; against a text this short
# there is nothing to gain anyway.
ZSTD_MIN_PREFIX = 8


def _compress(data: bytes, prefix: bytes | None = None) -> bytes:
    """`data` as a zstd frame, compressed against `prefix` when given."""
    if prefix:
        return zstd.compress(
            data, options=_ZSTD_OPTIONS, zstd_dict=zstd.ZstdDict(prefix, is_raw=True).as_prefix
        )
    return zstd.compress(data, options=_ZSTD_OPTIONS)


def _decompress(encoding: str, data: bytes, prefix: bytes | None = None) -> bytes:
    """The bytes of a blob stored with `encoding`; `prefix` is its dictionary blob's bytes."""
    try:
        if encoding == ZSTD:
            return zstd.decompress(data)
        if encoding.startswith(ZSTD_TEXT_PREFIX) and prefix is not None:
            return zstd.decompress(data, zstd_dict=zstd.ZstdDict(prefix, is_raw=True).as_prefix)
        if encoding == "zlib":  # written before zstd
            return zlib.decompress(data)
        if encoding == "raw":
            return data
    except (zstd.ZstdError, zlib.error) as exc:
        raise StoreError(f"a {encoding.split(':')[0]} blob cannot be decompressed: {exc}") from exc
    raise StoreError(f"blob encoding {encoding!r} is not supported by this version")


class BlobQueries(StoreBase):
    """Storing and reading blobs."""

    def put_blob(self, data: bytes, *, prefix: bytes | None = None) -> str:
        """Store `data` once under its SHA-256; return the hash.

        With `prefix` (a raw snapshot's extracted text), `data` is compressed
        against it, so what the two share costs almost nothing; `prefix` is
        stored as a blob of its own first, and reading `data` needs it. Bytes
        already stored are left as they are, however they were compressed.
        """
        digest = sha256(data)
        if prefix is not None and len(prefix) < ZSTD_MIN_PREFIX:
            prefix = None  # a page of a few bytes is stored on its own
        if self._one("SELECT 1 AS x FROM blobs WHERE sha256 = ?", (digest,)) is None:
            encoding = ZSTD
            if prefix:
                encoding = ZSTD_TEXT_PREFIX + self.put_blob(prefix)
            self._insert(
                "blobs",
                {
                    "sha256": digest,
                    "encoding": encoding,
                    "size": len(data),
                    "data": _compress(data, prefix or None),
                },
            )
        return digest

    def put_text(self, text: str) -> str:
        return self.put_blob(text.encode("utf-8"))

    def get_blob(self, digest: str) -> bytes:
        return self._get_blob(digest, needed_by=None)

    def _get_blob(self, digest: str, *, needed_by: str | None) -> bytes:
        row = self._one("SELECT encoding, data FROM blobs WHERE sha256 = ?", (digest,))
        if row is None:
            if needed_by is not None:
                raise StoreError(
                    f"blob {needed_by[:12]} cannot be read: the blob it was compressed "
                    f"against, {digest[:12]}, is missing from the database"
                )
            raise StoreError(f"blob {digest[:12]} is missing from the database")
        encoding: str = row["encoding"]
        prefix = None
        if encoding.startswith(ZSTD_TEXT_PREFIX):
            if needed_by is not None:  # dictionaries are plain blobs: no chains, no cycles
                raise StoreError(
                    f"blob {needed_by[:12]} was compressed against blob {digest[:12]}, "
                    "which needs another blob in turn: not supported"
                )
            prefix = self._get_blob(encoding[len(ZSTD_TEXT_PREFIX) :], needed_by=digest)
        return _decompress(encoding, row["data"], prefix)

    def get_text(self, digest: str) -> str:
        return self.get_blob(digest).decode("utf-8")
