"""ListenBrainz histories, read as listens: the old export (one JSON array), the new one (a
zip of monthly `.jsonl` files under `listens/`), a submission payload, and Timbre's own
JSON-lines export (ListenBrainz listens with Timbre's fields under `additional_info`).

A JSON array is decoded an item at a time and a zip's members a line at a time, so a long
export takes no more memory than a few listens.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from player.history_listens import (
    HistoryFormatError,
    HistoryStream,
    Listen,
    clean_text,
    parse_time,
    positive,
)
from player.text_streams import json_array_items

MAX_MEMBER_BYTES = 4 * 1024**3  # a zip member larger than this is not an export


def open_zip(path: Path, stream: HistoryStream) -> None:
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
                        yield from json_lines_listens(lines, member.filename, stream)
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


def json_lines_listens(lines: Iterable[str], name: str,
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


def json_array_listens(text: IO[str], name: str, stream: HistoryStream) -> Iterator[Listen]:
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
    artist, title = clean_text(meta.get("artist_name")), clean_text(meta.get("track_name"))
    if not artist or not title:
        raise ValueError("no artist_name or track_name")
    at = parse_time(ours.get("started_at", item.get("listened_at")))
    duration = positive(ours.get("duration_s"))
    if duration is None and info.get("duration_ms") is not None:
        duration = positive(float(info["duration_ms"]) / 1000)
    if duration is None:
        duration = positive(info.get("duration"))
    mbid = (clean_text(info.get("recording_mbid")) or clean_text(mapping.get("recording_mbid"))
            or clean_text(info.get("track_mbid")))
    fraction = ours.get("fraction")
    heard = ours.get("heard_ms")
    return Listen(
        listened_at=at, artist=artist, title=title, album=clean_text(meta.get("release_name")),
        duration_s=duration, mb_recording_id=mbid,
        end_reason=clean_text(ours.get("end_reason")),
        fraction=float(fraction) if isinstance(fraction, (int, float)) else None,
        heard_ms=int(heard) if isinstance(heard, (int, float)) else None,
        imported_from=clean_text(ours.get("imported_from")),
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
