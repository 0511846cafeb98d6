"""Bring listening history from other players into the library's plays.

Each listen is matched to a local track (MusicBrainz recording id, then normalised artist
+ title, + album and duration when known; see player/track_match.py). Matched listens
become plays of their track and count like native plays (the plays_stats trigger keeps
play counts current); unmatched ones are kept with track_id NULL, so a later scan can
match them with `rematch_unmatched`. Importing the same file again adds nothing: the
plays_import_dedup index makes repeats `INSERT OR IGNORE` no-ops, and a listen that is
already a native play (our own export, imported back) is skipped too.

The file is read as it is imported (player/history_formats.py streams it), BATCH listens
at a time, each batch in its own transaction: memory stays flat however long the history.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from threading import Event

from player.db import transaction
from player.history_formats import FORMATS, HistoryFormatError, Listen, open_history
from player.models import END_SKIPPED, TrackId
from player.schema import counts_as_play
from player.track_match import TrackIndex

END_IMPORTED = "imported"
BATCH = 5_000  # listens per transaction: short enough not to hold up a play being recorded
NATIVE_WINDOW_S = 1.0  # a native play within this of an imported listen is the same listen

ProgressFn = Callable[[int, int], None]


@dataclass
class ImportReport:
    """What one import did; `as_json()` is the `timbre history import --json` document."""

    format: str
    read: int = 0
    matched: int = 0
    unmatched: int = 0
    added: int = 0
    duplicates: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """Return the counts (and the unreadable records) as a JSON-ready dict."""
        data = asdict(self)
        return {k: data[k] for k in ("read", "matched", "unmatched", "added", "duplicates",
                                     "invalid", "format", "problems")}


def import_history(
    conn: sqlite3.Connection,
    path: Path,
    *,
    fmt: str = "auto",
    local_tz: str | None = None,
    progress: ProgressFn | None = None,
    cancel: Event | None = None,
) -> ImportReport:
    """Import a history file (any supported format) into plays; return the counts.

    local_tz: the time zone of a `.scrobbler.log` written with `#TZ/UNKNOWN` (default:
    this computer's). progress(done, total) counts bytes of the file. Raises
    HistoryFormatError when the file is unreadable as a whole (before anything is added).
    """
    with open_history(Path(path), fmt, local_tz=local_tz) as stream:
        report = import_listens(conn, stream, imported_from=stream.format,
                                source_ref=Path(path).name, progress=progress, cancel=cancel,
                                position=stream.progress)
    report.invalid, report.problems = stream.invalid, stream.problems
    return report


def import_listens(
    conn: sqlite3.Connection,
    listens: Iterable[Listen],
    *,
    imported_from: str,
    source_ref: str | None = None,
    progress: ProgressFn | None = None,
    cancel: Event | None = None,
    position: Callable[[], tuple[int, int]] | None = None,
) -> ImportReport:
    """Match listens to tracks and store them as plays, BATCH at a time; return the counts.

    listens is read once, as it goes (a stream from a file is never held whole).
    position() says how far through its source the import is, for progress; without it,
    progress counts listens.
    """
    report = ImportReport(imported_from)
    index = TrackIndex(conn)
    source = iter(listens)
    while batch := list(islice(source, BATCH)):
        if cancel is not None and cancel.is_set():
            break
        report.read += len(batch)
        rows = []
        for listen in batch:
            track = index.match(artist=listen.artist, title=listen.title, album=listen.album,
                                duration_s=listen.duration_s,
                                mb_recording_id=listen.mb_recording_id)
            if track is None:
                report.unmatched += 1
            else:
                report.matched += 1
            rows.append(_row(listen, track, imported_from, source_ref))
        with transaction(conn):
            fresh = [r for r in rows if not _is_native_play(conn, r)]
            cur = conn.executemany(_INSERT, fresh)
            report.added += max(cur.rowcount, 0)
        if progress is not None:
            progress(*(position() if position is not None else (report.read, report.read)))
    report.duplicates = report.read - report.added if not (cancel and cancel.is_set()) else 0
    return report


_INSERT = """INSERT OR IGNORE INTO plays (track_id, started_at, ended_at, heard_ms, fraction,
    end_reason, source, source_ref, artist, title, album, duration_s, mb_recording_id,
    imported_from) VALUES (?, ?, ?, ?, ?, ?, 'import', ?, ?, ?, ?, ?, ?, ?)"""


def _row(listen: Listen, track: TrackId | None, imported_from: str,
         source_ref: str | None) -> tuple[object, ...]:
    skipped = listen.end_reason == END_SKIPPED
    duration = listen.duration_s
    if listen.fraction is not None:
        fraction = listen.fraction
    else:
        # A scrobble means the listener heard at least half (or four minutes); the exact
        # share is unknown, so a whole listen, unless the player logged a skip.
        fraction = 0.0 if skipped else 1.0
    heard_ms = listen.heard_ms
    if heard_ms is None:
        heard_ms = int(duration * 1000 * fraction) if duration else None
    ended_at = listen.listened_at + heard_ms / 1000 if heard_ms else None
    end_reason = listen.end_reason or END_IMPORTED
    return (None if track is None else int(track), listen.listened_at, ended_at, heard_ms,
            fraction, end_reason, source_ref, listen.artist, listen.title, listen.album,
            duration, listen.mb_recording_id, listen.imported_from or imported_from)


def _is_native_play(conn: sqlite3.Connection, row: tuple[object, ...]) -> bool:
    """Return whether a native play already records this listen (e.g. our own export)."""
    at = float(row[1])  # type: ignore[arg-type]
    return conn.execute(
        "SELECT 1 FROM plays WHERE started_at BETWEEN ? AND ? AND imported_from IS NULL "
        "AND lower(artist) = lower(?) AND lower(title) = lower(?) LIMIT 1",
        (at - NATIVE_WINDOW_S, at + NATIVE_WINDOW_S, row[7], row[8]),
    ).fetchone() is not None


def rematch_unmatched(conn: sqlite3.Connection) -> int:
    """Match kept imported listens to tracks added since; return how many matched.

    The scanner calls this after a scan. Play counts of the newly matched tracks are
    recomputed from their plays (the stats trigger only sees inserts).
    """
    pending = conn.execute(
        "SELECT id, artist, title, album, duration_s, mb_recording_id FROM plays "
        "WHERE track_id IS NULL AND imported_from IS NOT NULL"
    ).fetchall()
    if not pending:
        return 0
    index = TrackIndex(conn)
    updates = []
    for play_id, artist, title, album, duration, mbid in pending:
        track = index.match(artist=artist, title=title, album=album, duration_s=duration,
                            mb_recording_id=mbid)
        if track is not None:
            updates.append((int(track), play_id))
    if updates:
        with transaction(conn):
            conn.executemany("UPDATE plays SET track_id = ? WHERE id = ? AND track_id IS NULL",
                             updates)
            refresh_track_stats(conn, sorted({t for t, _ in updates}))
    return len(updates)


def refresh_track_stats(conn: sqlite3.Connection, track_ids: Sequence[int]) -> None:
    """Recompute track_stats rows from plays, as the plays_stats trigger counts them."""
    for i in range(0, len(track_ids), 500):
        chunk = list(track_ids[i:i + 500])
        marks = ",".join("?" * len(chunk))
        conn.execute(
            f"""INSERT INTO track_stats (track_id, play_count, skip_count, first_played,
                    last_played, heard_ms)
                SELECT track_id, sum({counts_as_play("plays")}),
                       sum(end_reason IS 'skipped'), min(started_at), max(started_at),
                       sum(coalesce(heard_ms, 0))
                FROM plays WHERE track_id IN ({marks}) GROUP BY track_id
                ON CONFLICT(track_id) DO UPDATE SET play_count = excluded.play_count,
                    skip_count = excluded.skip_count, first_played = excluded.first_played,
                    last_played = excluded.last_played, heard_ms = excluded.heard_ms""",
            chunk,
        )


# -- command line -------------------------------------------------------------------------

def register_import(history_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `timbre history import FILE` to the `history` command's subcommands."""
    from player.cli_common import add_db_option

    p = history_subparsers.add_parser(
        "import", help="import listening history from another player or service",
        description="Import a Rockbox .scrobbler.log, a ListenBrainz export (JSON, JSON "
        "lines or the zip) or a Last.fm CSV. Listens that match no library track are kept "
        "and matched after later scans. Importing a file again adds nothing.",
    )
    p.add_argument("file", type=Path, help="the history file")
    p.add_argument("--format", dest="history_format", default="auto",
                   choices=("auto",) + FORMATS, help="the file's format (default: detect)")
    p.add_argument("--timezone", metavar="ZONE", default=None,
                   help="where a .scrobbler.log with local times was written "
                   "(e.g. Europe/Paris; default: this computer's zone)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_db_option(p)
    p.set_defaults(func=_cmd_import)


def _cmd_import(args: argparse.Namespace) -> int:
    from player.cli_common import TerminalProgress, open_db, print_json

    conn = open_db(args)
    bar = TerminalProgress("Importing", unit="bytes")
    try:
        report = import_history(conn, args.file, fmt=args.history_format,
                                local_tz=args.timezone, progress=bar)
    except HistoryFormatError as exc:
        bar.close()
        print(f"timbre: {exc}", file=sys.stderr)
        return 1
    bar.close()
    for problem in report.problems:
        print(f"timbre: skipped {problem}", file=sys.stderr)
    if report.invalid > len(report.problems):
        print(f"timbre: ... and {report.invalid - len(report.problems)} more unreadable records",
              file=sys.stderr)
    if args.json:
        print_json(report.as_json())
        return 0
    print(f"{report.read} listens read ({report.format}): {report.matched} matched to library "
          f"tracks, {report.unmatched} kept unmatched; {report.added} added, "
          f"{report.duplicates} already there")
    if report.invalid:
        print(f"{report.invalid} records could not be read (listed above)")
    return 0
