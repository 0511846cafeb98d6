"""Import playlist files into the library's playlists, and export them again.

An entry resolves to a library track by its path first (relative to the playlist's
folder, absolute, or a file:// URI), then, for paths written on another machine, by the
end of its path and by its tags (artist + title, + duration when known). Nothing outside
the library is ever opened: URLs are reported, not fetched, and a path that climbs out of
the library folders (`../../etc/passwd`) is rejected with that reason. Only rows of the
tracks table are ever returned, so a resolved entry is always a library track.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

from player.models import TrackId
from player.playlist_files import Entry, OutEntry, read_playlist, write_playlist
from player.playlists import MANUAL, PlaylistId, create_playlist, get_playlist, playlist_tracks
from player.track_match import TrackIndex

REASON_URL = "a URL: Timbre never opens URLs"
REASON_OUTSIDE = "outside the library folders"
REASON_CLIMBS = "climbs out of the library folders with '..'"
REASON_NOT_FOUND = "no library track has this path or these tags"
REASON_EMPTY = "an empty location"

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):")
_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")


@dataclass(frozen=True, slots=True)
class Unresolved:
    """An entry that names no library track, and why."""

    position: int  # 0-based, in the file
    location: str
    reason: str


@dataclass
class Resolution:
    """The library tracks a playlist file names, in its order, and the entries it could not."""

    tracks: list[TrackId] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `import_playlist` stored."""

    playlist_id: PlaylistId
    name: str
    entries: int
    resolved: int
    unresolved: list[Unresolved]


def library_roots(conn: sqlite3.Connection) -> list[str]:
    """Return the library folders the user chose, normalised."""
    return [os.path.normpath(os.fsdecode(r[0])) for r in conn.execute("SELECT path_bytes FROM roots")]


def _inside(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class _Resolver:
    def __init__(self, conn: sqlite3.Connection, base_dir: Path) -> None:
        self.conn = conn
        self.base = os.path.normpath(os.path.abspath(base_dir))
        self.roots = library_roots(conn)
        self._index: TrackIndex | None = None
        self._tails: dict[str, list[int]] | None = None

    def by_path(self, path: str) -> TrackId | None:
        row = self.conn.execute("SELECT id FROM tracks WHERE path_bytes = ?",
                                (os.fsencode(path),)).fetchone()
        return None if row is None else TrackId(row[0])

    def by_tail(self, parts: Sequence[str]) -> TrackId | None:
        """Return the one library track whose path ends with the same folder and file name."""
        if self._tails is None:
            self._tails = {}
            for tid, raw in self.conn.execute("SELECT id, path_bytes FROM tracks"):
                p = os.fsdecode(raw).split(os.sep)
                self._tails.setdefault("/".join(p[-2:]).casefold(), []).append(tid)
        found = self._tails.get("/".join(parts[-2:]).casefold(), []) if len(parts) >= 2 else []
        return TrackId(found[0]) if len(found) == 1 else None

    def by_tags(self, entry: Entry) -> TrackId | None:
        if self._index is None:
            self._index = TrackIndex(self.conn)
        for artist, title in entry.name_splits():
            found = self._index.match(artist=artist, title=title, album=entry.album,
                                      duration_s=entry.duration_s)
            if found is not None:
                return found
        return None

    def resolve(self, entry: Entry) -> tuple[TrackId | None, str]:
        """Return (track, "") or (None, why not)."""
        loc = entry.location.strip()
        if not loc:
            return None, REASON_EMPTY
        local, foreign_parts = self._local_path(loc, entry.is_uri)
        if local is None and foreign_parts is None:
            return self.by_tags(entry), REASON_URL
        if local is not None:
            normal = os.path.normpath(local)
            if _inside(normal, self.roots) or not self.roots:
                found = self.by_path(normal)
                if found is not None:
                    return found, ""
            if not _inside(normal, self.roots):
                real = os.path.realpath(normal)
                if _inside(real, self.roots) and (found := self.by_path(real)) is not None:
                    return found, ""  # a symlink into the library
                climbed = ".." in re.split(r"[\\/]", loc)
                if climbed:
                    return None, REASON_CLIMBS
            foreign_parts = normal.split(os.sep)
            reason = REASON_NOT_FOUND if _inside(normal, self.roots) else REASON_OUTSIDE
        else:
            reason = REASON_NOT_FOUND
        assert foreign_parts is not None
        found = self.by_tail(foreign_parts) or self.by_tags(entry)
        return (found, "") if found is not None else (None, reason)

    def _local_path(self, loc: str, is_uri: bool) -> tuple[str | None, list[str] | None]:
        """Return (an absolute local path, None), (None, parts of a foreign path) or (None, None)."""
        if _DRIVE.match(loc) or loc.startswith("\\\\"):  # C:\Music\x.mp3, \\server\share
            return None, [p for p in re.split(r"[\\/]", loc) if p]
        m = _SCHEME.match(loc)
        if m:
            if m.group(1).lower() != "file":
                return None, None
            parts = urlsplit(loc)
            if parts.netloc not in ("", "localhost"):
                return None, [p for p in os.fsdecode(unquote_to_bytes(parts.path)).split("/") if p]
            return os.fsdecode(unquote_to_bytes(parts.path)), None
        if is_uri:
            loc = os.fsdecode(unquote_to_bytes(loc))
        loc = loc.replace("\\", "/") if os.sep == "/" and "\\" in loc and "/" not in loc else loc
        return os.path.join(self.base, loc), None


def resolve_entries(conn: sqlite3.Connection, entries: Sequence[Entry], base_dir: Path) -> Resolution:
    """Return the library tracks the entries name; the others with a reason each."""
    resolver = _Resolver(conn, base_dir)
    result = Resolution()
    for position, entry in enumerate(entries):
        track, reason = resolver.resolve(entry)
        if track is not None:
            result.tracks.append(track)
        else:
            result.unresolved.append(Unresolved(position, entry.location, reason))
    return result


def import_playlist(
    conn: sqlite3.Connection,
    path: Path,
    *,
    name: str | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """Read a playlist file and store the tracks it names as a new manual playlist.

    The name defaults to the file's stem, with " (2)", " (3)"... when taken.
    """
    path = Path(path)
    entries = read_playlist(path, fmt=fmt, encoding=encoding)
    resolution = resolve_entries(conn, entries, path.parent)
    wanted = name or path.stem
    final = _free_name(conn, wanted) if name is None else wanted
    pid = create_playlist(conn, final, kind=MANUAL, track_ids=resolution.tracks,
                          description=f"Imported from {path.name}")
    return ImportResult(pid, final, len(entries), len(resolution.tracks), resolution.unresolved)


def _free_name(conn: sqlite3.Connection, wanted: str) -> str:
    taken = {r[0].casefold() for r in conn.execute("SELECT name FROM playlists")}
    name, n = wanted, 2
    while name.casefold() in taken:
        name, n = f"{wanted} ({n})", n + 1
    return name


def export_playlist(
    conn: sqlite3.Connection,
    ref: str | int,
    path: Path,
    *,
    fmt: str | None = None,
    absolute: bool = False,
) -> tuple[int, list[str]]:
    """Write a playlist (any kind) to a file; return (entries written, paths left out)."""
    info = get_playlist(conn, ref)
    ids = playlist_tracks(conn, info.id)
    rows = {}
    for i in range(0, len(ids), 500):
        chunk = [int(t) for t in ids[i:i + 500]]
        for r in conn.execute(
            "SELECT id, path_bytes, title, artist, album, duration_s FROM tracks "
            f"WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            rows[r[0]] = OutEntry(os.fsdecode(r[1]), r[2], r[3], r[4], r[5])
    entries = [rows[int(t)] for t in ids if int(t) in rows]
    skipped = write_playlist(Path(path), entries, fmt=fmt, absolute=absolute)
    return len(entries) - len(skipped), skipped
