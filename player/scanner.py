"""Scan library roots into the database: incremental, move-aware, crash-safe.

A scan walks every root first (stat only), so an unchanged library costs little more
than `os.scandir`. Files whose size or mtime changed, and new files, are read by worker
processes (player/scan_worker.py) with a per-file time limit; the answers are written in
large transactions. A new file that matches a track which disappeared in the same walk
(MusicBrainz recording id, else audio fingerprint, else size + duration + tags) takes
over that track's row, so its id, plays and likes survive a move or rename. Removed
files are deleted only after every new file was matched, and never under a root that is
missing (unmounted) or a folder that could not be listed.

Each batch commits on its own: a kill mid-scan loses at most the batch in flight, and
the next scan sees the committed files as unchanged and carries on from there.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

from player.cover_files import (
    IMAGE_EXTENSIONS,
    drop_unused_covers,
    folder_cover,
    store_folder_covers,
)
from player.db import connect, transaction
from player.library import add_root, display_path, root_key
from player.paths import covers_dir
from player.scan_pool import ReaderPool
from player.tags import TAG_COLUMNS

ProgressFn = Callable[[int, int], None]

AUDIO_EXTENSIONS = frozenset(
    b"mp3 mp2 flac ogg oga opus m4a m4b mp4 aac alac wav wave aif aiff aifc wma asf "
    b"ape wv mpc spx".split()
)
BATCH_FILES = 5000  # rows per transaction (a kill loses at most this many reads)
BATCH_SECONDS = 3.0
TWO_WORKERS_FROM = 400  # files to read before a second reader process pays off
FILE_TIMEOUT_S = 20.0

_ROW_COLUMNS = (*TAG_COLUMNS, "fingerprint", "cover_hash", "size", "mtime_ns", "root_id",
                "updated_at")


@dataclass
class ScanReport:
    """What a scan did; `summary()` is the `timbre scan --json` document."""

    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    seconds: float = 0.0
    missing_roots: list[str] = field(default_factory=list)
    cancelled: bool = False
    rematched: int = 0  # imported listens that found their track in this scan
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), new ones

    def summary(self) -> dict[str, object]:
        """Return the machine-readable summary."""
        return {
            "added": self.added, "updated": self.updated, "moved": self.moved,
            "removed": self.removed, "unchanged": self.unchanged, "failed": self.failed,
            "seconds": round(self.seconds, 3), "missing_roots": self.missing_roots,
            "cancelled": self.cancelled, "rematched": self.rematched,
        }


@dataclass
class _Todo:
    path: bytes
    size: int
    mtime_ns: int
    root_id: int
    folder_cover: bytes | None


@dataclass
class _Walk:
    todo: list[_Todo] = field(default_factory=list)
    unseen: dict[bytes, int] = field(default_factory=dict)  # known paths not walked yet
    seen: set[bytes] = field(default_factory=set)  # walked paths that are not known tracks
    errors: list[tuple[bytes, str, int | None, int | None]] = field(default_factory=list)
    unlisted_dirs: list[bytes] = field(default_factory=list)  # keep tracks under these
    unchanged: int = 0
    # folder -> (cover file name, size, mtime_ns): what the database knows, and what changed
    covers_known: dict[bytes, tuple[bytes, int, int]] = field(default_factory=dict)
    covers_changed: dict[bytes, tuple[bytes, int, int] | None] = field(default_factory=dict)
    adopt_covers: bool = False  # first scan since the migration: record, do not re-read

    def walked(self, path: bytes, known: _Known) -> bool:
        """Return True when the walk reached path."""
        return path in self.seen or (path in known.mtime and path not in self.unseen)


class _Known:
    """The tracks already in the database, by path: what the walk compares against."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        # One pass over the (wide) tracks table, split and turned into dicts in C: this is
        # a fifth of an unchanged rescan (two queries cost a third more).
        rows = conn.execute("SELECT path_bytes, mtime_ns, size FROM tracks").fetchall()
        paths, mtimes, sizes = zip(*rows, strict=True) if rows else ((), (), ())
        self.mtime: dict[bytes, int] = dict(zip(paths, mtimes, strict=True))
        self.size: dict[bytes, int] = dict(zip(paths, sizes, strict=True))
        self.ids: dict[bytes, tuple[int, int | None]] = {}
        self._conn = conn

    def load_ids(self) -> None:
        """Load each path's (track id, root id); needed only when something changed."""
        self.ids = {pb: (tid, rid) for pb, tid, rid in self._conn.execute(
            "SELECT path_bytes, id, root_id FROM tracks")}


def _no_progress(done: int, total: int) -> None:
    pass


def scan(
    roots: Sequence[str | bytes | os.PathLike[str]] | None,
    db_path: Path,
    *,
    progress: ProgressFn = _no_progress,
    cancel: Event | None = None,
    workers: int | None = None,
    file_timeout_s: float = FILE_TIMEOUT_S,
) -> ScanReport:
    """Add the given folders as roots (None: every remembered root) and scan them.

    Args:
        workers: reader processes (default: 1, or 2 for many files on 2+ cores).
        file_timeout_s: a file whose tags take longer is recorded as failed.
    """
    started = time.monotonic()
    cancel = cancel or Event()
    report = ScanReport()
    conn = connect(db_path)
    # a larger page cache for this connection: 100,000 inserts touch every index page
    conn.execute(f"PRAGMA cache_size = -{64 * 1024}")
    try:
        if roots is not None:
            for root in roots:
                add_root(conn, root)
        wanted = {root_key(r) for r in roots or ()}
        root_rows = [
            (int(rid), bytes(pb), status) for rid, pb, status in conn.execute(
                "SELECT id, path_bytes, last_scan_status FROM roots")
            if roots is None or bytes(pb) in wanted
        ]
        known = _Known(conn)
        known_errors = {bytes(pb): (size, mtime) for pb, size, mtime in conn.execute(
            "SELECT path_bytes, size, mtime_ns FROM scan_errors")}
        walk = _Walk(unseen=dict(known.mtime))
        walk.covers_known = {bytes(f): (bytes(n), int(sz), int(mt)) for f, n, sz, mt in conn.execute(
            "SELECT folder_bytes, name, size, mtime_ns FROM folder_covers")}
        walk.adopt_covers = conn.execute(
            "SELECT 1 FROM state WHERE key = 'folder_covers_adopt'").fetchone() is not None
        present: list[tuple[int, bytes]] = []
        was_missing = {rid for rid, _root, status in root_rows if status == "missing"}
        for root_id, root, _status in root_rows:
            if cancel.is_set():
                break
            if not _walk_root(root, root_id, known, known_errors, walk, report, conn):
                report.missing_roots.append(display_path(root))
                _mark_root(conn, root_id, "missing", set_missing=True)
            else:
                present.append((root_id, root))
        if cancel.is_set():
            report.cancelled = True
        else:
            _reconcile_before_reading(conn, walk, present, known, known_errors)
            report.failed += len(walk.errors)
            report.errors.extend((display_path(p), reason) for p, reason, _s, _m in walk.errors)
            if walk.todo or walk.unchanged != len(known.mtime):
                known.load_ids()  # before any write moves a row
            disappeared = _disappeared(walk, present, known)
            _read_and_store(conn, db_path, walk, disappeared, known, report, progress, cancel,
                            workers, file_timeout_s)
            if cancel.is_set():
                report.cancelled = True
            else:
                report.removed = _remove_disappeared(conn, walk, known, disappeared)
                if walk.covers_changed or walk.adopt_covers:
                    store_folder_covers(conn, walk.covers_changed)
                if report.updated or report.removed or report.moved:
                    drop_unused_covers(conn, covers_dir(Path(db_path)))
                if report.added or report.updated or report.moved:
                    # imported listens kept unmatched may now have their track (imported
                    # here: the history formats cost 60 ms the window's start-up skips)
                    from player.history_import import rematch_unmatched

                    report.rematched = rematch_unmatched(conn)
        status = "cancelled" if report.cancelled else "ok"
        for root_id, _root in present:
            _mark_root(conn, root_id, status, set_missing=root_id in was_missing)
    finally:
        conn.close()
    report.seconds = time.monotonic() - started
    return report


def _mark_root(conn: sqlite3.Connection, root_id: int, status: str, *,
               set_missing: bool) -> None:
    """Record a root's scan; flag or unflag its tracks when it went or came back."""
    with transaction(conn) as c:
        c.execute("UPDATE roots SET last_scan_at = ?, last_scan_status = ? WHERE id = ?",
                  (time.time(), status, root_id))
        if set_missing:
            missing = int(status == "missing")
            c.execute("UPDATE tracks SET missing = ? WHERE root_id = ? AND missing != ?",
                      (missing, root_id, missing))


def _walk_root(
    root: bytes,
    root_id: int,
    known: _Known,
    known_errors: dict[bytes, tuple[int | None, int | None]],
    walk: _Walk,
    report: ScanReport,
    conn: sqlite3.Connection,
) -> bool:
    """Stat every file under root; return False when the root is missing or unmounted."""
    try:
        top = os.stat(root)
        if not stat.S_ISDIR(top.st_mode):
            return False
        # An unmounted mount point is an empty folder: keep its tracks.
        if not os.listdir(root) and conn.execute(
                "SELECT 1 FROM tracks WHERE root_id = ? LIMIT 1", (root_id,)).fetchone():
            return False
    except OSError:
        return False
    visited = {(top.st_dev, top.st_ino)}  # symlink loops end here
    stack = [root]
    seen = walk.seen
    unseen = walk.unseen
    todo = walk.todo
    known_mtime = known.mtime
    known_size = known.size
    unchanged = 0
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            walk.errors.append((folder, f"cannot list folder: {exc.strerror or exc}", None, None))
            walk.unlisted_dirs.append(folder + b"/")
            continue
        images: list[bytes] = []
        changed_here: list[_Todo] = []
        unchanged_here: list[tuple[bytes, int, int]] = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    st = entry.stat()
                    key = (st.st_dev, st.st_ino)
                    if key not in visited:
                        visited.add(key)
                        stack.append(entry.path)
                    continue
            except OSError:
                pass  # a broken link: treated as a file below if it looks like audio
            dot = name.rfind(b".")
            if dot < 0:
                continue
            ext = name[dot + 1 :].lower()
            if ext not in AUDIO_EXTENSIONS:
                if ext in IMAGE_EXTENSIONS:
                    images.append(name)  # a cover.jpg candidate
                continue
            path = entry.path
            # popping what the walk reaches leaves the disappeared tracks in `unseen`
            old_mtime = unseen.pop(path, None)
            if old_mtime is None:
                if path in seen or path in known_mtime:
                    continue  # reached twice, through overlapping roots or links
                seen.add(path)
            try:
                st = entry.stat()
            except OSError as exc:
                walk.errors.append((path, f"cannot read file: {exc.strerror or exc}", None, None))
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # a FIFO or device named .mp3 would block a reader forever
            size, mtime = st.st_size, st.st_mtime_ns
            if old_mtime == mtime and known_size[path] == size:
                unchanged_here.append((path, size, mtime))
                continue
            failed = known_errors.get(path)
            if failed is not None and failed == (size, mtime):
                report.failed += 1  # still the same unreadable file: not read again
                continue
            changed_here.append(_Todo(path, size, mtime, root_id, None))
        if not changed_here and not unchanged_here:
            continue
        cover = folder_cover(folder, images)
        if cover != walk.covers_known.get(folder):
            walk.covers_changed[folder] = cover
            if not walk.adopt_covers:
                # A cover.jpg added, replaced or removed: its tracks are read again to take it.
                changed_here += [_Todo(p, sz, mt, root_id, None) for p, sz, mt in unchanged_here]
                unchanged_here = []
        unchanged += len(unchanged_here)
        if changed_here:
            cover_path = folder + b"/" + cover[0] if cover else None
            for item in changed_here:
                item.folder_cover = cover_path
            todo.extend(changed_here)
    walk.unchanged += unchanged
    report.unchanged += unchanged
    return True


def _under(path: bytes, prefixes: Sequence[bytes]) -> bool:
    return any(path.startswith(p) for p in prefixes)


def _reconcile_before_reading(conn: sqlite3.Connection, walk: _Walk,
                              present: list[tuple[int, bytes]], known: _Known,
                              known_errors: dict[bytes, tuple[int | None, int | None]]) -> None:
    """Drop error rows of files that went away and record this walk's errors."""
    prefixes = [root + b"/" for _rid, root in present]
    gone = [(p,) for p in known_errors
            if not walk.walked(p, known) and _under(p, prefixes)
            and not _under(p, walk.unlisted_dirs)]
    if not gone and not walk.errors:
        return
    now = time.time()
    with transaction(conn) as c:
        c.executemany("DELETE FROM scan_errors WHERE path_bytes = ?", gone)
        c.executemany(
            "INSERT OR REPLACE INTO scan_errors (path_bytes, path, reason, size, mtime_ns, at) "
            "VALUES (?,?,?,?,?,?)",
            [(p, display_path(p), reason, size, mtime, now)
             for p, reason, size, mtime in walk.errors],
        )


class _MovePool:
    """Tracks that disappeared in this walk, indexed for matching the new files.

    The tracks of removed library folders join them: a file moved or copied from a
    removed folder into one still in the library takes its plays, likes and features
    along. Nothing under a removed folder is looked at on disk (it may be a dead network
    mount); should the folder be added again, a copied file left there is a new track.
    """

    _SELECT = ("SELECT id, mb_recording_id, fingerprint, size, duration_s, title, artist, "
               "album FROM tracks WHERE ")

    def __init__(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        self.available: set[int] = set()
        self.by_mbid: dict[str, list[int]] = {}
        self.by_fp: dict[str, list[int]] = {}
        self.by_meta: dict[tuple[object, ...], list[int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            self._index(conn.execute(
                f"{self._SELECT}id IN ({','.join('?' * len(chunk))})", chunk))
        self._index(conn.execute(f"{self._SELECT}root_id IS NULL"))  # removed folders'

    def _index(self, rows: Iterable[tuple[Any, ...]]) -> None:
        for tid, mbid, fp, size, duration, title, artist, album in rows:
            self.available.add(tid)
            if mbid:
                self.by_mbid.setdefault(mbid, []).append(tid)
            if fp:
                self.by_fp.setdefault(fp, []).append(tid)
            self.by_meta.setdefault(_meta_key(size, duration, title, artist, album),
                                    []).append(tid)

    def take(self, mbid: str | None, fp: str | None, meta: tuple[object, ...]) -> int | None:
        """Return and remove the disappeared track this new file is, if any."""
        candidates = [
            *(self.by_mbid.get(mbid, ()) if mbid else ()),
            *(self.by_fp.get(fp, ()) if fp else ()),
            *self.by_meta.get(meta, ()),
        ]
        for tid in candidates:  # in order of trust: MusicBrainz id, fingerprint, tags
            if tid in self.available:
                self.available.discard(tid)
                return tid
        return None


def _meta_key(size: int, duration: float | None, title: str | None, artist: str | None,
              album: str | None) -> tuple[object, ...]:
    return (size, round(duration or 0.0, 2), title, artist, album)


def _disappeared(walk: _Walk, present: list[tuple[int, bytes]], known: _Known) -> list[int]:
    present_ids = {rid for rid, _root in present}
    return [
        tid for path, (tid, root_id) in known.ids.items()
        if root_id in present_ids and path in walk.unseen
        and not _under(path, walk.unlisted_dirs)
    ]


def _read_and_store(conn: sqlite3.Connection, db_path: Path, walk: _Walk, disappeared: list[int],
                    known: _Known, report: ScanReport,
                    progress: ProgressFn, cancel: Event, workers: int | None,
                    file_timeout_s: float) -> None:
    """Read the new and changed files in worker processes; store them in batches."""
    todo = walk.todo
    total = len(todo)
    if not todo:
        return
    progress(0, total)
    todo.sort(key=lambda t: t.path)  # folder by folder: friendlier to disks and caches
    pool = _MovePool(conn, disappeared)
    if workers is None:
        workers = 2 if total >= TWO_WORKERS_FROM and (os.cpu_count() or 1) >= 2 else 1
    writer = _BatchWriter(conn, known, pool, report)
    done = 0
    last_progress = 0.0
    with ReaderPool(covers_dir(Path(db_path)), workers, file_timeout_s) as readers:
        requests = [(i, t.path, t.folder_cover) for i, t in enumerate(todo)]
        for seq, ok, payload in readers.run(requests, cancel):
            item = todo[seq]
            if ok:
                writer.add(item, payload)
            else:
                writer.fail(item, str(payload))
            done += 1
            now = time.monotonic()
            if done == total or now - last_progress >= 0.1:
                last_progress = now
                progress(done, total)
            writer.maybe_flush()
    writer.flush()


class _BatchWriter:
    """Collect read results and write them in large transactions."""

    def __init__(self, conn: sqlite3.Connection, known: _Known, pool: _MovePool,
                 report: ScanReport) -> None:
        self.conn = conn
        self.known = known
        self.pool = pool
        self.report = report
        self.rows: list[tuple[_Todo, tuple[Any, ...]]] = []
        self.failures: list[tuple[_Todo, str]] = []
        self.last_flush = time.monotonic()

    def add(self, item: _Todo, payload: tuple[Any, ...]) -> None:
        self.rows.append((item, payload))

    def fail(self, item: _Todo, reason: str) -> None:
        self.failures.append((item, reason))

    def maybe_flush(self) -> None:
        if (len(self.rows) + len(self.failures) >= BATCH_FILES
                or time.monotonic() - self.last_flush >= BATCH_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Write everything collected in one transaction."""
        self.last_flush = time.monotonic()
        if not self.rows and not self.failures:
            return
        now = time.time()
        covers: dict[str, tuple[object, ...]] = {}
        inserts: list[tuple[object, ...]] = []
        updates: list[tuple[object, ...]] = []
        report = self.report
        title_i, artist_i, album_i, duration_i = (TAG_COLUMNS.index(c) for c in (
            "title", "artist", "album", "duration_s"))
        mbid_i = TAG_COLUMNS.index("mb_recording_id")
        for item, (values, fp, cover) in self.rows:
            cover_hash = None
            if cover is not None:
                cover_hash = cover[0]
                covers[cover_hash] = cover
            row = (*values, fp, cover_hash, item.size, item.mtime_ns, item.root_id, now)
            old = self.known.ids.get(item.path)
            if old is not None:
                updates.append((*row, display_path(item.path), item.path, old[0]))
                report.updated += 1
                continue
            moved = self.pool.take(values[mbid_i], fp, _meta_key(
                item.size, values[duration_i], values[title_i], values[artist_i],
                values[album_i]))
            if moved is not None:
                updates.append((*row, display_path(item.path), item.path, moved))
                report.moved += 1
            else:
                inserts.append((*row, display_path(item.path), item.path, now))
                report.added += 1
        report.failed += len(self.failures)
        report.errors.extend((display_path(i.path), r) for i, r in self.failures)
        sets = ", ".join(f"{c} = ?" for c in (*_ROW_COLUMNS, "path", "path_bytes"))
        cols = ", ".join((*_ROW_COLUMNS, "path", "path_bytes", "added_at"))
        with transaction(self.conn) as c:
            c.executemany(
                "INSERT OR IGNORE INTO covers (hash, mime, source, size_bytes, width, height, "
                "image_path, thumb_path) VALUES (?,?,?,?,?,?,?,?)", list(covers.values()))
            # A moved file's old path row goes first, so path_bytes stays unique.
            c.executemany(f"UPDATE tracks SET {sets}, missing = 0 WHERE id = ?", updates)
            _insert_tracks(c, f"INSERT INTO tracks ({cols}) VALUES "
                              f"({','.join('?' * (len(_ROW_COLUMNS) + 3))})", inserts)
            c.executemany("DELETE FROM scan_errors WHERE path_bytes = ?",
                          [(item.path,) for item, _ in self.rows])
            c.executemany(
                "INSERT OR REPLACE INTO scan_errors (path_bytes, path, reason, size, mtime_ns, "
                "at) VALUES (?,?,?,?,?,?)",
                [(i.path, display_path(i.path), r, i.size, i.mtime_ns, now)
                 for i, r in self.failures])
        self.rows.clear()
        self.failures.clear()


_FTS_TRIGGER = "tracks_fts_insert"
_FTS_COLUMNS = "title, artist, album, albumartist, genre, composer"


def _insert_tracks(c: sqlite3.Connection, sql: str, rows: list[tuple[object, ...]]) -> None:
    """Insert new tracks and index them for search, inside the caller's transaction.

    The FTS trigger costs ~45 us a row (FTS5 flushes its pending terms at every trigger
    statement) against ~2 us for one INSERT ... SELECT into the index, so a large batch
    drops the trigger, fills the index in one statement and recreates the trigger from
    its stored SQL. It is all one transaction: a kill rolls the trigger back in place.
    """
    found = c.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                      (_FTS_TRIGGER,)).fetchone()
    if len(rows) < 100 or found is None:
        c.executemany(sql, rows)
        return
    (last_id,) = c.execute("SELECT coalesce(max(id), 0) FROM tracks").fetchone()
    c.execute(f"DROP TRIGGER {_FTS_TRIGGER}")
    c.executemany(sql, rows)
    # INTEGER PRIMARY KEY without AUTOINCREMENT: new rows get ids above the old maximum
    c.execute(f"INSERT INTO tracks_fts (rowid, {_FTS_COLUMNS}) "
              f"SELECT id, {_FTS_COLUMNS} FROM tracks WHERE id > ?", (last_id,))
    c.execute(found[0])


def _remove_disappeared(conn: sqlite3.Connection, walk: _Walk, known: _Known,
                        disappeared: list[int]) -> int:
    """Delete the tracks whose files went away (and were not moves); return how many."""
    if not disappeared:
        return 0
    with transaction(conn) as c:
        # Moved tracks have a new path by now; only rows still at a vanished path go.
        rows = []
        for start in range(0, len(disappeared), 500):
            chunk = disappeared[start : start + 500]
            rows += [
                (tid,) for tid, pb in c.execute(
                    f"SELECT id, path_bytes FROM tracks WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk)
                if not walk.walked(bytes(pb), known)
            ]
        c.executemany("DELETE FROM tracks WHERE id = ?", rows)
    return len(rows)
