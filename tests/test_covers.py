"""Cover art: stored once by hash, thumbnailed, hostile images refused."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from player.cover_files import find_folder_cover
from player.covers import MAX_COVER_BYTES, THUMB_PX, store_cover
from tests.media import jpeg_bytes


def test_same_image_is_stored_once_with_a_thumbnail(tmp_path: Path) -> None:
    data = jpeg_bytes((10, 200, 30), size=800)
    first = store_cover(data, "image/jpeg", "embedded", tmp_path)
    assert first is not None and first.image_path and first.thumb_path
    stamp = Path(first.image_path).stat().st_mtime_ns
    again = store_cover(data, "image/jpeg", "embedded", tmp_path)
    assert again == first
    assert Path(first.image_path).stat().st_mtime_ns == stamp  # not written twice
    assert Path(first.image_path).read_bytes() == data
    assert (first.width, first.height, first.mime) == (800, 800, "image/jpeg")
    with Image.open(first.thumb_path) as thumb:
        assert max(thumb.size) <= THUMB_PX
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 2
    other = store_cover(jpeg_bytes((1, 2, 3)), None, "folder", tmp_path)
    assert other is not None and other.hash != first.hash


def test_hostile_images_are_refused(tmp_path: Path) -> None:
    assert store_cover(b"", None, "embedded", tmp_path) is None
    assert store_cover(b"\xff\xd8 not really a jpeg" * 100, None, "embedded", tmp_path) is None
    assert store_cover(b"\x00" * (MAX_COVER_BYTES + 1), None, "embedded", tmp_path) is None
    # a decompression bomb: tiny file, 20000 x 20000 pixels
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 1_000_000
    assert store_cover(buf.getvalue(), "image/png", "embedded", tmp_path) is None
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_folder_cover_names_are_ranked() -> None:
    names = [b"01.mp3", b"Folder.JPG", b"back.jpg", b"cover.png", b"notes.txt"]
    assert find_folder_cover(names) == b"cover.png"
    assert find_folder_cover([b"folder.jpg", b"a.flac"]) == b"folder.jpg"
    assert find_folder_cover([b"a.flac", b"scan.jpg"]) is None
