"""Rockbox and other portable players' `.scrobbler.log` (Audioscrobbler 1.1), read as listens.

The log is tab-separated, one listen a line. `#TZ/UNKNOWN` means the timestamps are the
device's local wall-clock time written as epoch seconds: they are turned into UTC in the
time zone the user names, else the computer's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from player.history_listens import (
    EARLIEST,
    HistoryFormatError,
    HistoryStream,
    Listen,
    positive,
)
from player.models import END_SKIPPED


def time_zone(local_tz: str | None) -> ZoneInfo | None:
    """Return the named time zone (None when none is named); an unknown one is an error."""
    if not local_tz:
        return None
    try:
        return ZoneInfo(local_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HistoryFormatError(f"unknown time zone {local_tz!r} (e.g. Europe/Paris)") from exc


def local_to_utc(wall_clock: int, local_tz: str | None) -> float:
    """Return UTC seconds for a device's local wall-clock time written as epoch seconds."""
    naive = datetime(1970, 1, 1) + timedelta(seconds=wall_clock)
    zone = time_zone(local_tz)
    # No zone given: the computer's own, which is usually where the device was used.
    return naive.replace(tzinfo=zone).timestamp() if zone else naive.timestamp()


def scrobbler_listens(lines: Iterable[str], stream: HistoryStream,
                      local_tz: str | None) -> Iterator[Listen]:
    """Read an Audioscrobbler 1.1 `.scrobbler.log` (Rockbox, Cowon, iPod scrobblers)."""
    utc = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.upper().startswith("#TZ/"):
                utc = line[4:].strip().upper() == "UTC"
            continue
        cols = line.split("\t")
        if len(cols) < 7:
            stream.bad(f"line {number}", f"{len(cols)} tab-separated fields, expected 7 or 8")
            continue
        artist, album, title, _track, length, rating, stamp = (c.strip() for c in cols[:7])
        mbid = cols[7].strip() if len(cols) > 7 else ""
        if not artist or not title:
            stream.bad(f"line {number}", "no artist or title")
            continue
        try:
            wall = int(float(stamp))
        except ValueError:
            stream.bad(f"line {number}", f"timestamp {stamp!r} is not a number")
            continue
        at = float(wall) if utc else local_to_utc(wall, local_tz)
        if at < EARLIEST:
            stream.bad(f"line {number}", "timestamp before 2000: the player's clock was not set")
            continue
        skipped = rating.upper() == "S"
        yield Listen(
            listened_at=at, artist=artist, title=title, album=album or None,
            duration_s=positive(length), mb_recording_id=mbid or None,
            end_reason=END_SKIPPED if skipped else None,
        )
