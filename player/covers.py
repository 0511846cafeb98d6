"""Cover art: embedded or folder images stored once by content hash, with a thumbnail.

Images are untrusted bytes: over MAX_COVER_BYTES they are ignored, over MAX_PIXELS they
are kept without a thumbnail (Pillow's decompression-bomb guard), undecodable ones too.
Files are written atomically (temp file, then rename), so two scanner workers storing
the same image at once, or a kill mid-write, never leave a half image behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

MAX_COVER_BYTES = 16 * 1024 * 1024
MAX_PIXELS = 40_000_000  # about 6300 x 6300; larger is a bomb or a scan of a poster
THUMB_PX = 256

_EXT_BY_FORMAT = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp"}
_MIME_BY_FORMAT = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
                   "WEBP": "image/webp", "BMP": "image/bmp"}


@dataclass(frozen=True)
class CoverInfo:
    """One stored image; field names are the `covers` columns."""

    hash: str
    mime: str | None
    source: str  # embedded | folder
    size_bytes: int
    width: int | None
    height: int | None
    image_path: str | None
    thumb_path: str | None

    def row(self) -> tuple[object, ...]:
        """Return the values in `covers` column order."""
        return (self.hash, self.mime, self.source, self.size_bytes, self.width, self.height,
                self.image_path, self.thumb_path)


COVER_COLUMNS = ("hash", "mime", "source", "size_bytes", "width", "height", "image_path",
                 "thumb_path")


def store_cover(data: bytes, mime: str | None, source: str, covers_dir: Path) -> CoverInfo | None:
    """Store an image under its sha1 (once), with a thumbnail; return its row.

    Returns None when the bytes are empty, too big, too many pixels or not an image.
    """
    if not data or len(data) > MAX_COVER_BYTES:
        return None
    digest = hashlib.sha1(data).hexdigest()
    shard = covers_dir / digest[:2]
    thumb = shard / f"{digest}.thumb.jpg"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                width, height = image.size
                fmt = image.format or ""
                if width * height > MAX_PIXELS:
                    return None  # a decompression bomb, or a poster scan: no thumbnail
                image_path = shard / f"{digest}{_EXT_BY_FORMAT.get(fmt, '.img')}"
                if not image_path.exists():
                    _write_atomic(image_path, data)
                if not thumb.exists():
                    _write_thumbnail(image, thumb)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return None
        except (OSError, ValueError, SyntaxError, EOFError, struct.error):
            return None  # not a decodable image (UnidentifiedImageError is an OSError)
    return CoverInfo(
        hash=digest,
        mime=_MIME_BY_FORMAT.get(fmt, mime),
        source=source,
        size_bytes=len(data),
        width=width,
        height=height,
        image_path=str(image_path),
        thumb_path=str(thumb),
    )


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_thumbnail(image: Image.Image, thumb: Path) -> None:
    image.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at a reduced scale
    small = image.convert("RGB")
    small.thumbnail((THUMB_PX, THUMB_PX))
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=85)
    _write_atomic(thumb, buf.getvalue())


def store_folder_cover(path: bytes, covers_dir: Path) -> CoverInfo | None:
    """Store a cover.jpg/folder.jpg file's image; None when unreadable or too big."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_COVER_BYTES + 1)
    except OSError:
        return None
    return store_cover(data, None, "folder", covers_dir)
