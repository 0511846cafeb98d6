"""Listening histories written by other players and services, read as a stream of listens.

- Rockbox and other portable players: `.scrobbler.log` (Audioscrobbler 1.1, tab-separated;
  `#TZ/UNKNOWN` means the timestamps are the device's local wall-clock time).
- ListenBrainz: the old export (one JSON array), the new one (a zip of monthly `.jsonl`
  files under `listens/`), a submission payload, and Timbre's own JSON-lines export.
- Last.fm CSV: the common headerless `artist,album,track,date` shape ("31 Jan 2021 14:05",
  UTC) and quoted files with a header row and Unix timestamps.

A file is read as its listens are iterated, a line (or one array item) at a time, so a
history of millions of listens takes no more memory than a few. What makes the whole file
unreadable (not a known format, binary data, a zip without listens, an unknown time zone,
a CSV header without a time column) is found when it is opened, before any listen.
Files are untrusted: a record that cannot be read is counted and described, never fatal.

This module finds a file's format and opens it with the parser of its family
(player/history_scrobbler.py, history_listenbrainz.py, history_lastfm.py), which share the
Listen and HistoryStream of player/history_listens.py; it re-exports their public names.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from player.history_lastfm import lastfm_listens, parse_lastfm_date
from player.history_listenbrainz import (
    MAX_MEMBER_BYTES,
    json_array_listens,
    json_lines_listens,
    listenbrainz_listen,
    open_zip,
)
from player.history_listens import (
    EARLIEST,
    MAX_PROBLEMS,
    HistoryFormatError,
    HistoryStream,
    Listen,
)
from player.history_scrobbler import local_to_utc, scrobbler_listens, time_zone
from player.text_streams import TextFileError, bytes_read, first_char, open_text

__all__ = [
    "EARLIEST", "FORMATS", "MAX_MEMBER_BYTES", "MAX_PROBLEMS", "HistoryFormatError",
    "HistoryStream", "Listen", "ParsedHistory", "detect_format", "listenbrainz_listen",
    "local_to_utc", "open_history", "parse_lastfm_date", "read_history",
]

FORMATS = ("scrobbler", "listenbrainz", "lastfm")


def detect_format(path: Path) -> str:
    """Return scrobbler, listenbrainz or lastfm from the name and the first bytes."""
    name = path.name.lower()
    if name.endswith((".zip", ".json", ".jsonl")):
        return "listenbrainz"
    if "scrobbler" in name and name.endswith((".log", ".txt")):
        return "scrobbler"
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise HistoryFormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head.startswith(b"PK\x03\x04"):
        return "listenbrainz"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"[", b"{")):
        return "listenbrainz"
    if text.startswith(b"#AUDIOSCROBBLER") or b"\t" in text.split(b"\n", 1)[0]:
        return "scrobbler"
    if b"," in text:
        return "lastfm"
    raise HistoryFormatError(
        f"{path.name} is not a listening history Timbre knows; name the format with --format"
    )


def open_history(path: Path, fmt: str = "auto", *, local_tz: str | None = None
                 ) -> HistoryStream:
    """Open a history file in the given (or detected) format; iterate it for its listens.

    Raises HistoryFormatError when the file cannot be read as a whole.
    """
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise HistoryFormatError(
            f"unknown history format {fmt!r}; use one of {', '.join(FORMATS)}")
    stream = HistoryStream(fmt)
    if fmt == "listenbrainz" and zipfile.is_zipfile(path):
        open_zip(path, stream)
        return stream
    if fmt == "scrobbler":
        time_zone(local_tz)  # an unknown zone is an error before anything is read
    try:
        text = open_text(path)
    except TextFileError as exc:
        raise HistoryFormatError(str(exc)) from exc
    stream._file = text
    try:
        stream.size = path.stat().st_size
        stream._position = lambda: stream.size if text.closed else bytes_read(text)
        if fmt == "scrobbler":
            stream._listens = _closing(text, scrobbler_listens(text, stream, local_tz))
        elif fmt == "lastfm":
            stream._listens = _closing(text, lastfm_listens(text, stream))
        elif first_char(text) == "[":
            stream._listens = _closing(text, json_array_listens(text, path.name, stream))
        else:
            stream._listens = _closing(text, json_lines_listens(text, path.name, stream))
    except BaseException:
        text.close()
        raise
    return stream


@dataclass
class ParsedHistory:
    """The listens of one file, all in memory, and the lines that could not be read."""

    format: str
    listens: list[Listen] = field(default_factory=list)
    invalid: int = 0
    problems: list[str] = field(default_factory=list)


def read_history(path: Path, fmt: str = "auto", *, local_tz: str | None = None
                 ) -> ParsedHistory:
    """Read a whole history file into memory (imports stream it with open_history)."""
    with open_history(path, fmt, local_tz=local_tz) as stream:
        listens = list(stream)
    return ParsedHistory(stream.format, listens, stream.invalid, stream.problems)


def _closing(file: IO[Any], listens: Iterator[Listen]) -> Iterator[Listen]:
    """Yield the listens, closing the file at the end (or when the iteration is closed)."""
    with file:
        yield from listens
