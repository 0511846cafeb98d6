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
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from player.models import END_SKIPPED
from player.text_streams import (
    TextFileError,
    bytes_read,
    first_char,
    json_array_items,
    open_text,
)

FORMATS = ("scrobbler", "listenbrainz", "lastfm")
MAX_PROBLEMS = 50  # described problems kept per file; the rest are only counted
MAX_MEMBER_BYTES = 4 * 1024**3  # a zip member larger than this is not an export
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()  # Audioscrobbler began in 2002


class HistoryFormatError(ValueError):
    """A history file cannot be read at all; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Listen:
    """One listen from another player or service."""

    listened_at: float  # unix seconds, UTC
    artist: str
    title: str
    album: str | None = None
    duration_s: float | None = None
    mb_recording_id: str | None = None
    end_reason: str | None = None  # skipped, or what Timbre's own export recorded
    fraction: float | None = None
    heard_ms: int | None = None
    imported_from: str | None = None  # Timbre's own export: where the play came from


@dataclass
class HistoryStream:
    """The listens of one file, read from it as they are iterated (once), and its problems.

    `invalid` and `problems` grow as the iteration meets unreadable records; `progress()`
    says how far through the file it is, in bytes. Close it (or use it in a `with`) when
    not reading it to the end.
    """

    format: str
    invalid: int = 0
    problems: list[str] = field(default_factory=list)
    size: int = 0  # bytes to read: the file, or a zip's listens members uncompressed
    _listens: Iterator[Listen] = field(default_factory=lambda: iter(()), repr=False)
    _position: Callable[[], int] = field(default=lambda: 0, repr=False)
    _file: IO[Any] | zipfile.ZipFile | None = field(default=None, repr=False)

    def bad(self, where: str, why: str) -> None:
        """Count an unreadable record, describing the first few."""
        self.invalid += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")

    def progress(self) -> tuple[int, int]:
        """Return (bytes read, bytes in all), for a progress bar."""
        return min(self._position(), self.size), self.size

    def __iter__(self) -> Iterator[Listen]:
        return self._listens

    def close(self) -> None:
        """Stop reading and close the file."""
        close = getattr(self._listens, "close", None)
        if close is not None:
            close()
        if self._file is not None:  # when the listens were never read, the file is open
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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
        _open_zip(path, stream)
        return stream
    if fmt == "scrobbler":
        _zone(local_tz)  # an unknown zone is an error before anything is read
    try:
        text = open_text(path)
    except TextFileError as exc:
        raise HistoryFormatError(str(exc)) from exc
    stream._file = text
    try:
        stream.size = path.stat().st_size
        stream._position = lambda: stream.size if text.closed else bytes_read(text)
        if fmt == "scrobbler":
            stream._listens = _closing(text, _scrobbler_listens(text, stream, local_tz))
        elif fmt == "lastfm":
            stream._listens = _closing(text, _lastfm_listens(text, stream))
        elif first_char(text) == "[":
            stream._listens = _closing(text, _json_array_listens(text, path.name, stream))
        else:
            stream._listens = _closing(text, _json_lines_listens(text, path.name, stream))
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


def _zone(local_tz: str | None) -> ZoneInfo | None:
    if not local_tz:
        return None
    try:
        return ZoneInfo(local_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HistoryFormatError(f"unknown time zone {local_tz!r} (e.g. Europe/Paris)") from exc


def local_to_utc(wall_clock: int, local_tz: str | None) -> float:
    """Return UTC seconds for a device's local wall-clock time written as epoch seconds."""
    naive = datetime(1970, 1, 1) + timedelta(seconds=wall_clock)
    zone = _zone(local_tz)
    # No zone given: the computer's own, which is usually where the device was used.
    return naive.replace(tzinfo=zone).timestamp() if zone else naive.timestamp()


def _scrobbler_listens(lines: Iterable[str], stream: HistoryStream,
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
            duration_s=_positive(length), mb_recording_id=mbid or None,
            end_reason=END_SKIPPED if skipped else None,
        )


def _positive(text: object) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


# -- ListenBrainz -----------------------------------------------------------------------

def _open_zip(path: Path, stream: HistoryStream) -> None:
    """Check a ListenBrainz zip's directory now; its listens members are read as iterated."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise HistoryFormatError(f"{path.name} is a damaged zip file ({exc})") from exc
    members = sorted((m for m in archive.infolist() if _is_listens_member(m.filename)),
                     key=lambda m: m.filename)
    if not members:
        archive.close()
        raise HistoryFormatError(f"{path.name} is a zip without listens/*.jsonl files")
    readable = [m for m in members if m.file_size <= MAX_MEMBER_BYTES]
    stream.size = sum(m.file_size for m in readable)
    done = [0, 0]  # bytes of the members finished, of the member being read

    def position() -> int:
        return done[0] + done[1]

    def listens() -> Iterator[Listen]:
        with archive:
            for member in members:
                if member.file_size > MAX_MEMBER_BYTES:
                    stream.bad(member.filename, "too large to be a listens file")
                    continue
                try:
                    with archive.open(member) as raw:
                        lines = _counted_lines(raw, done)
                        yield from _json_lines_listens(lines, member.filename, stream)
                except (zipfile.BadZipFile, OSError, EOFError) as exc:
                    # a damaged member loses its unread listens, not the others
                    stream.bad(member.filename, f"damaged ({exc})")
                done[0] += member.file_size
                done[1] = 0

    stream._listens = listens()
    stream._position = position
    stream._file = archive


def _counted_lines(raw: IO[bytes], done: list[int]) -> Iterator[str]:
    """Yield raw's lines as text (UTF-8, errors replaced), counting its bytes in done[1]."""
    for line in raw:
        done[1] += len(line)
        yield line.decode("utf-8", errors="replace")


def _is_listens_member(name: str) -> bool:
    lower = name.lower()
    if not lower.endswith((".jsonl", ".json")) or lower.endswith("/"):
        return False
    parts = lower.split("/")
    # The zip also holds user.json, feedback.jsonl and pinned recordings: not listens.
    return "listens" in parts[:-1] or parts[-1].startswith("listens")


def _json_lines_listens(lines: Iterable[str], name: str,
                        stream: HistoryStream) -> Iterator[Listen]:
    """Read JSON lines; a line may also be a whole array or a submission payload."""
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except ValueError:
            stream.bad(f"{name} line {number}", "not valid JSON")
            continue
        yield from _listens_in(item if isinstance(item, list) else [item],
                               f"{name} line {number}", stream)


def _json_array_listens(text: IO[str], name: str, stream: HistoryStream) -> Iterator[Listen]:
    """Read a file holding one JSON array of listens, an item at a time."""
    number = 0
    try:
        for number, item in enumerate(json_array_items(text), start=1):
            yield from _listens_in(item, f"{name} item {number}", stream, single=True)
    except ValueError as exc:
        if number == 0:  # nothing readable at all
            raise HistoryFormatError(f"{name} is not valid JSON ({exc})") from exc
        stream.bad(f"{name} item {number + 1}", f"not valid JSON ({exc}); the rest is skipped")


def _listens_in(items: Any, where: str, stream: HistoryStream,
                *, single: bool = False) -> Iterator[Listen]:
    """Yield the listens of a list of them or a submission payload (single: one item)."""
    if single:
        items = [items]
    if isinstance(items, dict) and isinstance(items.get("payload"), list):
        items = items["payload"]  # a submission: {"listen_type": "import", "payload": [...]}
    if not isinstance(items, list):
        stream.bad(where, "not a list of listens")
        return
    for i, item in enumerate(items):
        label = where if len(items) == 1 else f"{where} item {i + 1}"
        if isinstance(item, dict) and isinstance(item.get("payload"), list):
            yield from _listens_in(item, label, stream)
            continue
        try:
            listen = listenbrainz_listen(item)
        except (KeyError, TypeError, ValueError) as exc:
            stream.bad(label, str(exc) or type(exc).__name__)
            continue
        yield listen


def listenbrainz_listen(item: Any) -> Listen:
    """Return one ListenBrainz listen (with Timbre's own fields when present)."""
    if not isinstance(item, dict):
        raise ValueError("a listen must be a JSON object")
    meta = item.get("track_metadata")
    if not isinstance(meta, dict):
        raise ValueError("no track_metadata")
    info: dict[str, Any] = _object(meta.get("additional_info"))
    ours: dict[str, Any] = _object(info.get("timbre"))
    mapping: dict[str, Any] = _object(meta.get("mbid_mapping"))
    artist, title = _text(meta.get("artist_name")), _text(meta.get("track_name"))
    if not artist or not title:
        raise ValueError("no artist_name or track_name")
    at = _when(ours.get("started_at", item.get("listened_at")))
    duration = _positive(ours.get("duration_s"))
    if duration is None and info.get("duration_ms") is not None:
        duration = _positive(float(info["duration_ms"]) / 1000)
    if duration is None:
        duration = _positive(info.get("duration"))
    mbid = (_text(info.get("recording_mbid")) or _text(mapping.get("recording_mbid"))
            or _text(info.get("track_mbid")))
    fraction = ours.get("fraction")
    heard = ours.get("heard_ms")
    return Listen(
        listened_at=at, artist=artist, title=title, album=_text(meta.get("release_name")),
        duration_s=duration, mb_recording_id=mbid,
        end_reason=_text(ours.get("end_reason")),
        fraction=float(fraction) if isinstance(fraction, (int, float)) else None,
        heard_ms=int(heard) if isinstance(heard, (int, float)) else None,
        imported_from=_text(ours.get("imported_from")),
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _when(value: object) -> float:
    """Return UTC seconds from epoch seconds (or milliseconds) or an ISO 8601 string."""
    if isinstance(value, bool) or value is None:
        raise ValueError("no listened_at")
    if isinstance(value, (int, float)):
        at = float(value)
    else:
        text = str(value).strip()
        try:
            at = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"listened_at {text!r} is not a time") from None
            at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if at > 1e11:  # milliseconds
        at /= 1000
    if at < EARLIEST:
        raise ValueError("time before 2000")
    return at


# -- Last.fm CSV ------------------------------------------------------------------------

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
        return _when(text)
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


def _lastfm_listens(text: IO[str], stream: HistoryStream) -> Iterator[Listen]:
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
            at = _when(stamp) if stamp else parse_lastfm_date(cell("date"))
        except ValueError as exc:
            stream.bad(f"line {number}", str(exc))  # e.g. the "now playing" row has no date
            continue
        yield Listen(
            listened_at=at, artist=" ".join(artist.split()), title=" ".join(title.split()),
            album=" ".join(cell("album").split()) or None, mb_recording_id=cell("mbid") or None,
        )
