"""The cover images beside the music, as the scanner sees them; no Pillow here.

The scanner walks every folder on each rescan, so what it needs of cover files is kept
free of the image library (whose import the scanner process would otherwise pay on every
rescan of a library with a cover.jpg in it): which file of a folder is its cover, the
cover file each folder had at the last scan (table folder_covers), and forgetting the
stored images no track shows any more. Storing an image (player.covers) happens in the
reader processes.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from player.db import transaction

FOLDER_NAMES = (b"cover", b"folder", b"front", b"albumart", b"album")
FOLDER_EXTS = (b".jpg", b".jpeg", b".png", b".webp")
IMAGE_EXTENSIONS = frozenset(ext[1:] for ext in FOLDER_EXTS)
"""FOLDER_EXTS without the dot, as the scanner compares a file name's extension."""


def find_folder_cover(names: list[bytes]) -> bytes | None:
    """Return the best cover image among a folder's file names (cover.jpg first)."""
    best: tuple[int, int, bytes] | None = None
    for name in names:
        lower = name.lower()
        stem, dot, ext = lower.rpartition(b".")
        if not dot or b"." + ext not in FOLDER_EXTS or stem not in FOLDER_NAMES:
            continue
        rank = (FOLDER_NAMES.index(stem), FOLDER_EXTS.index(b"." + ext), name)
        if best is None or rank < best:
            best = rank
    return best[2] if best else None


def folder_cover(folder: bytes, images: list[bytes]) -> tuple[bytes, int, int] | None:
    """Return the folder's cover file as (name, size, mtime_ns), None when it has none."""
    if not images:
        return None
    found = find_folder_cover(images)
    if found is None:
        return None
    try:
        st = os.stat(folder + b"/" + found)
    except OSError:
        return None
    return (found, st.st_size, st.st_mtime_ns)


def store_folder_covers(conn: sqlite3.Connection,
                        changed: dict[bytes, tuple[bytes, int, int] | None]) -> None:
    """Record the cover files of the folders whose tracks took them in a scan (None: the
    folder has none any more); a first scan after the migration has adopted them all."""
    with transaction(conn) as c:
        c.executemany("DELETE FROM folder_covers WHERE folder_bytes = ?",
                      [(f,) for f, cover in changed.items() if cover is None])
        c.executemany(
            "INSERT OR REPLACE INTO folder_covers (folder_bytes, name, size, mtime_ns) "
            "VALUES (?, ?, ?, ?)",
            [(f, *cover) for f, cover in changed.items() if cover is not None])
        c.execute("DELETE FROM state WHERE key = 'folder_covers_adopt'")


def drop_unused_covers(conn: sqlite3.Connection, folder: Path) -> None:
    """Forget the cover images no track shows any more, and delete their files."""
    with transaction(conn) as c:
        unused = c.execute(
            "SELECT hash, image_path, thumb_path FROM covers WHERE hash NOT IN "
            "(SELECT cover_hash FROM tracks WHERE cover_hash IS NOT NULL)").fetchall()
        c.executemany("DELETE FROM covers WHERE hash = ?", [(h,) for h, _i, _t in unused])
    root = folder.resolve()
    for _hash, *files in unused:  # after the commit: a crash leaves a file, never a dead row
        for name in files:
            path = Path(name) if name else None
            if path is not None and path.resolve().is_relative_to(root):
                path.unlink(missing_ok=True)
