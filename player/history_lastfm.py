"""Last.fm CSV exports, read as listens: the common headerless `artist,album,track,date`
shape ("31 Jan 2021 14:05", UTC) and quoted files with a header row and Unix timestamps.

The header is read when the file is opened; the rows as the listens are iterated.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from player.history_listens import HistoryFormatError, HistoryStream, Listen, parse_time

_ARTIST = ("artist", "artist_name", "artist name", "artistname")
_TITLE = ("track", "track_name", "track name", "title", "name", "song", "trackname")
_ALBUM = ("album", "album_name", "album name", "release", "albumname")
_STAMP = ("uts", "timestamp", "date_uts", "unix", "unixtime", "listened_at", "time_uts")
_DATE = ("utc_time", "date", "time", "datetime", "played_at", "scrobble_time", "date_text")
_MBID = ("track_mbid", "recording_mbid", "mbid")
_DATE_FORMATS = ("%d %b %Y %H:%M", "%d %b %Y, %H:%M", "%d %B %Y %H:%M", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M", "%d %b %Y %H:%M:%S")


def parse_lastfm_date(text: str) -> float:
    """Return UTC seconds from a Last.fm export date ("31 Jan 2021 14:05", UTC) or epoch."""
    text = text.strip()
    if not text:
        raise ValueError("no date")
    try:
        return parse_time(text)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not one Timbre reads")


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def lastfm_listens(text: IO[str], stream: HistoryStream) -> Iterator[Listen]:
    """Read a Last.fm CSV export, headerless (artist,album,track,date) or with a header.

    The header is read at once (a header without a time column is a HistoryFormatError
    before anything is imported); the rows are read as the listens are iterated.
    """
    rows = csv.reader(text)
    first = next(rows, None)
    if first is None:
        return iter(())
    header = [c.strip().lower().lstrip("\ufeff") for c in first]
    has_header = _column(header, _ARTIST) is not None and (
        _column(header, _TITLE) is not None)
    if has_header:
        cols = {"artist": _column(header, _ARTIST), "title": _column(header, _TITLE),
                "album": _column(header, _ALBUM), "stamp": _column(header, _STAMP),
                "date": _column(header, _DATE), "mbid": _column(header, _MBID)}
        if cols["stamp"] is None and cols["date"] is None:
            raise HistoryFormatError("the CSV header names no time column (uts, date, ...)")
        return _lastfm_rows(rows, None, cols, len(header), stream)
    cols = {"artist": 0, "album": 1, "title": 2, "date": 3, "stamp": None, "mbid": None}
    return _lastfm_rows(rows, first, cols, None, stream)


def _lastfm_rows(rows: Any, first: list[str] | None, cols: dict[str, int | None],
                 width: int | None, stream: HistoryStream) -> Iterator[Listen]:
    """Yield the listens of CSV rows (first: a headerless file's first row, already read)."""
    pending = [] if first is None else [first]
    while True:
        if pending:
            row, number = pending.pop(), 1
        else:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a NUL byte or a field over the size limit
                stream.bad(f"line {rows.line_num}", str(exc))
                continue
            number = rows.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if width is None and len(row) != 4:
            # A comma inside an unquoted field: which field it splits is a guess, so no.
            stream.bad(f"line {number}", f"{len(row)} fields, expected artist,album,track,date")
            continue
        if width is not None and len(row) < width:
            stream.bad(f"line {number}", f"{len(row)} fields, the header has {width}")
            continue

        def cell(key: str, row: list[str] = row) -> str:
            index = cols[key]
            return row[index].strip() if index is not None else ""

        artist, title = cell("artist"), cell("title")
        if not artist or not title:
            stream.bad(f"line {number}", "no artist or track")
            continue
        try:
            stamp = cell("stamp")
            at = parse_time(stamp) if stamp else parse_lastfm_date(cell("date"))
        except ValueError as exc:
            stream.bad(f"line {number}", str(exc))  # e.g. the "now playing" row has no date
            continue
        yield Listen(
            listened_at=at, artist=" ".join(artist.split()), title=" ".join(title.split()),
            album=" ".join(cell("album").split()) or None, mb_recording_id=cell("mbid") or None,
        )
