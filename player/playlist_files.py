"""Playlist files other players read and write: M3U/M3U8 (extended), PLS and XSPF.

This module only reads and writes the formats; player/playlist_io.py resolves the
entries to library tracks and stores them. Playlist files are untrusted input: sizes are
capped, XML goes through defusedxml (no DTDs, no entities: a billion-laughs file is
refused, not expanded), and every failure is a PlaylistFileError saying what is wrong.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_from_bytes

import defusedxml
import defusedxml.ElementTree as SafeET

FORMATS = ("m3u", "pls", "xspf")
SUFFIX_FORMATS = {".m3u": "m3u", ".m3u8": "m3u", ".pls": "pls", ".xspf": "xspf"}
MAX_BYTES = 64 * 1024 * 1024  # a 100,000-entry M3U is about 10 MB
XSPF_NS = "http://xspf.org/ns/0/"
# Tried in order for .m3u and .pls: old Windows players wrote the ANSI code page.
LEGACY_ENCODING = "cp1252"


class PlaylistFileError(ValueError):
    """A playlist file cannot be read or written; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a playlist file, as written there."""

    location: str  # a path, a file:// URI or a URL, exactly as in the file
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration_s: float | None = None
    is_uri: bool = False  # XSPF locations are URI references (percent-encoded)
    display: str | None = None  # "Artist - Title" as written, when split from one string

    def name_splits(self) -> list[tuple[str | None, str]]:
        """Return the (artist, title) readings of this entry, the likeliest first.

        "A - B - C" may be artist "A - B" or artist "A"; both are tried.
        """
        readings: list[tuple[str | None, str]] = []
        if self.title:
            readings.append((self.artist, self.title))
        parts = (self.display or "").split(" - ")
        for i in range(1, len(parts)):
            reading = (" - ".join(parts[:i]).strip() or None, " - ".join(parts[i:]).strip())
            if reading[1] and reading not in readings:
                readings.append(reading)
        return readings


def detect_format(path: Path, data: bytes | None = None) -> str:
    """Return m3u, pls or xspf from the suffix, else from the first bytes."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt:
        return fmt
    head = (data if data is not None else path.read_bytes()[:512])[:512].lstrip(b"\xef\xbb\xbf")
    head = head.lstrip()
    if head.startswith(b"<"):
        return "xspf"
    if head.lower().startswith(b"[playlist]"):
        return "pls"
    return "m3u"


def read_playlist(path: Path, *, fmt: str | None = None, encoding: str | None = None) -> list[Entry]:
    """Return the entries of a playlist file (PlaylistFileError when unreadable)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PlaylistFileError(f"{path.name} is {size // 2**20} MB: too big for a playlist")
        data = path.read_bytes()
    except OSError as exc:
        raise PlaylistFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    fmt = fmt or detect_format(path, data)
    if fmt == "xspf":
        return parse_xspf(data, name=path.name)
    text = decode_text(data, name=path.name, encoding=encoding,
                       utf8_only=path.suffix.lower() == ".m3u8" and encoding is None)
    if fmt == "pls":
        return parse_pls(text)
    if fmt == "m3u":
        return parse_m3u(text)
    raise PlaylistFileError(f"unknown playlist format {fmt!r}; use one of {', '.join(FORMATS)}")


def decode_text(data: bytes, *, name: str, encoding: str | None = None,
                utf8_only: bool = False) -> str:
    """Decode a text playlist: a BOM wins, then UTF-8, then the legacy code page."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode(data, "utf-16", name)
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(data[3:], "utf-8", name)
    if encoding:
        try:
            "".encode(encoding)
        except LookupError as exc:
            raise PlaylistFileError(f"unknown encoding {encoding!r}") from exc
        return _decode(data, encoding, name)
    if b"\0" in data:
        raise PlaylistFileError(f"{name} holds binary data, not a text playlist")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if utf8_only:
            raise PlaylistFileError(
                f"{name} is not valid UTF-8 (byte {exc.start}), as an .m3u8 file must be"
            ) from exc
    try:
        return data.decode(LEGACY_ENCODING)
    except UnicodeDecodeError as exc:
        raise PlaylistFileError(
            f"{name} is neither UTF-8 nor {LEGACY_ENCODING} text; name its encoding "
            "(--encoding)"
        ) from exc


def _decode(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise PlaylistFileError(f"{name} is not valid {encoding} (byte {exc.start})") from exc


_EXTINF = re.compile(r"^#EXTINF:\s*(-?\d+(?:\.\d+)?)?[^,]*,(.*)$", re.IGNORECASE)


def _split_display(display: str) -> tuple[str | None, str | None]:
    """Split "Artist - Title" (the EXTINF and PLS convention) into (artist, title)."""
    display = display.strip()
    if not display:
        return None, None
    artist, sep, title = display.partition(" - ")
    return (artist.strip() or None, title.strip() or None) if sep else (None, display)


def _duration(text: str | None, scale: float = 1.0) -> float | None:
    try:
        value = float(text) * scale if text else None
    except ValueError:
        return None
    return value if value is not None and value > 0 else None


def parse_m3u(text: str) -> list[Entry]:
    """Return the entries of an M3U/M3U8 playlist (plain or extended)."""
    entries: list[Entry] = []
    info: tuple[float | None, str | None, str | None] | None = None
    display: str | None = None
    album: str | None = None
    artist_tag: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            m = _EXTINF.match(line)
            if m:
                artist, title = _split_display(m.group(2))
                info = (_duration(m.group(1)), artist, title)
                display = m.group(2).strip() or None
            elif line.upper().startswith("#EXTALB:"):
                album = line[8:].strip() or None
            elif line.upper().startswith("#EXTART:"):
                artist_tag = line[8:].strip() or None
            continue
        duration, artist, title = info or (None, None, None)
        display = display if info else None
        entries.append(Entry(line, title, artist or artist_tag, album, duration,
                             display=display))
        info = None
    return entries


def parse_pls(text: str) -> list[Entry]:
    """Return the entries of a PLS playlist, in FileN order."""
    fields: dict[int, dict[str, str]] = {}
    for raw in text.splitlines():
        key, sep, value = raw.strip().partition("=")
        m = re.fullmatch(r"(file|title|length)(\d+)", key.strip().lower())
        if sep and m:
            fields.setdefault(int(m.group(2)), {})[m.group(1)] = value.strip()
    entries = []
    for number in sorted(fields):
        item = fields[number]
        if not item.get("file"):
            continue
        artist, title = _split_display(item.get("title", ""))
        entries.append(Entry(item["file"], title, artist, None, _duration(item.get("length")),
                             display=item.get("title")))
    return entries


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xspf(data: bytes, *, name: str = "playlist") -> list[Entry]:
    """Return the entries of an XSPF playlist; hostile or broken XML is refused."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise PlaylistFileError(
            f"{name} was refused: it declares a DTD or entities ({type(exc).__name__}), "
            "which a playlist never needs"
        ) from exc
    except ET.ParseError as exc:
        raise PlaylistFileError(f"{name} is not well-formed XML ({exc})") from exc
    except (LookupError, ValueError) as exc:  # e.g. an unknown encoding declaration
        raise PlaylistFileError(f"{name} cannot be decoded ({exc})") from exc
    if _local(root.tag) != "playlist":
        raise PlaylistFileError(f"{name} is XML but not an XSPF playlist (<{_local(root.tag)}>)")
    entries = []
    for track in root.iter():
        if _local(track.tag) != "track":
            continue
        values: dict[str, str] = {}
        for child in track:
            key = _local(child.tag)
            if key not in values and child.text and child.text.strip():
                values[key] = child.text.strip()
        if "location" not in values:
            continue
        entries.append(Entry(values["location"], values.get("title"), values.get("creator"),
                             values.get("album"), _duration(values.get("duration"), 0.001),
                             is_uri=True))
    return entries


@dataclass(frozen=True, slots=True)
class OutEntry:
    """One track to write: its file-system path (str, surrogate-escaped) and tags."""

    path: str
    title: str | None
    artist: str | None
    album: str | None
    duration_s: float | None


def _one_line(text: str | None) -> str:
    """Return a tag safe on one line of a text playlist (tags are untrusted)."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _location(path: str, base: Path, absolute: bool) -> str:
    """Return path relative to base when it lies below base (unless absolute)."""
    if not absolute:
        rel = os.path.relpath(path, base)
        if not rel.startswith(".." + os.sep) and rel != "..":
            return rel
    return path


def write_playlist(path: Path, entries: Sequence[OutEntry], *, fmt: str | None = None,
                   absolute: bool = False) -> list[str]:
    """Write entries as a playlist file; return the paths left out (with a newline).

    Paths are relative to the playlist's folder when the track lies below it, absolute
    otherwise (or always, with absolute=True). Text files are UTF-8; a path that is not
    valid UTF-8 is written as its raw bytes, which is what players on Linux read.
    """
    path = Path(path)
    fmt = fmt or SUFFIX_FORMATS.get(path.suffix.lower(), "m3u")
    base = path.parent.resolve()
    skipped = [e.path for e in entries if "\n" in e.path or "\r" in e.path]
    kept = [e for e in entries if e.path not in skipped]
    if fmt == "xspf":
        data = _xspf_bytes(kept, base, absolute)
    elif fmt in ("m3u", "pls"):
        text = _m3u_text(kept, base, absolute) if fmt == "m3u" else _pls_text(kept, base, absolute)
        data = text.encode("utf-8", "surrogateescape")
    else:
        raise PlaylistFileError(f"unknown playlist format {fmt!r}; use one of {', '.join(FORMATS)}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a crash never leaves half a playlist
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PlaylistFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return skipped


def _display(e: OutEntry) -> str:
    title = _one_line(e.title)
    return f"{_one_line(e.artist)} - {title}" if e.artist else title


def _m3u_text(entries: Sequence[OutEntry], base: Path, absolute: bool) -> str:
    lines = ["#EXTM3U"]
    for e in entries:
        seconds = round(e.duration_s) if e.duration_s else -1
        lines.append(f"#EXTINF:{seconds},{_display(e)}")
        lines.append(_location(e.path, base, absolute))
    return "\n".join(lines) + "\n"


def _pls_text(entries: Sequence[OutEntry], base: Path, absolute: bool) -> str:
    lines = ["[playlist]"]
    for n, e in enumerate(entries, start=1):
        lines.append(f"File{n}={_location(e.path, base, absolute)}")
        lines.append(f"Title{n}={_display(e)}")
        lines.append(f"Length{n}={round(e.duration_s) if e.duration_s else -1}")
    lines += [f"NumberOfEntries={len(entries)}", "Version=2"]
    return "\n".join(lines) + "\n"


def _xspf_bytes(entries: Sequence[OutEntry], base: Path, absolute: bool) -> bytes:
    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", version="1")
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for e in entries:
        track = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        loc = _location(e.path, base, absolute)
        raw = os.fsencode(loc)
        uri = ("file://" + quote_from_bytes(raw, safe="/")) if os.path.isabs(loc) \
            else quote_from_bytes(raw, safe="/")
        ET.SubElement(track, f"{{{XSPF_NS}}}location").text = uri
        for key, value in (("title", e.title), ("creator", e.artist), ("album", e.album)):
            if value:
                ET.SubElement(track, f"{{{XSPF_NS}}}{key}").text = _xml_safe(value)
        if e.duration_s:
            ET.SubElement(track, f"{{{XSPF_NS}}}duration").text = str(int(e.duration_s * 1000))
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Drop characters XML cannot carry (control characters in tags happen)."""
    return _XML_INVALID.sub("", text)
