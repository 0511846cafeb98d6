"""The tag-reading worker process the scanner starts (python -m player.scan_worker DIR).

Reading untrusted files happens here, not in the scanner: a file that makes mutagen
spin, or eat memory, costs the scanner one killed worker and one error row, never the
scan. The protocol is length-prefixed pickles: requests on stdin are lists of
(seq, path_bytes, folder_cover_path_bytes | None); each file's answer on stdout is
(seq, True, (tag values, fingerprint, cover row | None)) or (seq, False, reason).
"""

from __future__ import annotations

import os
import queue
import struct
import sys
import threading
from pathlib import Path
from typing import Any

# Pillow loads here, in the worker processes, never in the scanner (or the window).
from player.covers import store_cover, store_folder_cover
from player.fingerprint import fingerprint_file
from player.scan_pool import read_frame, write_frame
from player.tags import TagError, read_tags

MEMORY_LIMIT_BYTES = 2 * 1024**3  # a hostile file gets MemoryError, not the machine's RAM


class Reader:
    """Read one file's row: tags, fingerprint and cover (stored in the covers dir)."""

    def __init__(self, covers_dir: Path) -> None:
        self.covers_dir = covers_dir
        self._folder_covers: dict[bytes, tuple[object, ...] | None] = {}

    def read(self, path: bytes, folder_cover: bytes | None) -> tuple[bool, Any]:
        """Return (True, (values, fingerprint, cover_row)) or (False, reason)."""
        try:
            with open(path, "rb") as f:
                try:
                    tags = read_tags(path, fileobj=f)
                except TagError as exc:
                    return False, str(exc)
                try:
                    fp = fingerprint_file(f)
                except (OSError, ValueError, struct.error, MemoryError):
                    fp = None  # no fingerprint only weakens move detection
        except MemoryError:
            return False, "not readable audio: needs too much memory"
        except RecursionError:
            return False, "not readable audio: nested too deeply"
        except OSError as exc:
            return False, f"cannot read the file: {exc.strerror or exc}"
        except Exception as exc:  # noqa: BLE001 - mutagen on hostile bytes: the file's fault
            return False, f"not readable audio ({type(exc).__name__}: {exc})"
        cover: tuple[object, ...] | None = None
        try:
            for picture in tags.pictures:
                info = store_cover(picture.data, picture.mime, "embedded", self.covers_dir)
                if info is not None:
                    cover = info.row()
                    break
            if cover is None and folder_cover is not None:
                if folder_cover not in self._folder_covers:
                    info = store_folder_cover(folder_cover, self.covers_dir)
                    self._folder_covers[folder_cover] = info.row() if info else None
                cover = self._folder_covers[folder_cover]
        except (OSError, MemoryError, ValueError):
            cover = None  # a cover we cannot store must not fail the track
        tags.pictures = []
        return True, (tags.column_values(), fp, cover)


def main(argv: list[str]) -> int:
    """Serve read requests from stdin until it closes."""
    try:
        import resource  # the standard library's, Unix only: elsewhere, no memory cap

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    stdin = sys.stdin.buffer
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames may reach the scanner's pipe
    reader = Reader(Path(argv[0]))
    # Drain stdin on a thread so the scanner never blocks writing requests while we
    # block writing answers.
    requests: queue.Queue[list[tuple[int, bytes, bytes | None]] | None] = queue.Queue()

    def pump() -> None:
        while (batch := read_frame(stdin)) is not None:
            requests.put(batch)
        requests.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while (batch := requests.get()) is not None:
        for seq, path, folder_cover in batch:
            ok, payload = reader.read(path, folder_cover)
            write_frame(out, (seq, ok, payload))
            out.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main(sys.argv[1:]))
