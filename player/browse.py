"""The read side the window needs: sorted and filtered track ids, rows by id, albums,
artists, genres, folders, history.

Every query here is a read; the window calls them on the GUI thread, so each one is an
index lookup or a single pass over the tracks table (tens of milliseconds at 100,000
tracks), and rows are fetched by id in pages rather than all at once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from player import feedback
from player.features_store import BPM_SQL as _BPM_SQL
from player.models import TrackId

# Sort keys the song table offers: key -> SQL expression (tracks t, track_stats s,
# features f, likes l are joined), most significant term first. Text sorts ignore case;
# NULLs go last via an `IS NULL` term so that unknown values never crowd the top.
SORT_EXPRESSIONS: dict[str, tuple[str, ...]] = {
    "title": ("t.title COLLATE NOCASE",),
    "artist": ("t.artist IS NULL", "t.artist COLLATE NOCASE", "t.album COLLATE NOCASE",
               "t.discnumber", "t.tracknumber"),
    "album": ("t.album IS NULL", "t.album COLLATE NOCASE", "t.discnumber", "t.tracknumber"),
    "albumartist": ("coalesce(t.albumartist, t.artist) IS NULL",
                    "coalesce(t.albumartist, t.artist) COLLATE NOCASE",
                    "t.album COLLATE NOCASE", "t.discnumber", "t.tracknumber"),
    "genre": ("t.genre IS NULL", "t.genre COLLATE NOCASE"),
    "year": ("t.year IS NULL", "t.year"),
    "duration": ("t.duration_s IS NULL", "t.duration_s"),
    "track": ("t.discnumber", "t.tracknumber"),
    "play_count": ("coalesce(s.play_count, 0)",),
    "last_played": ("s.last_played IS NULL", "s.last_played"),
    "bpm": (f"{_BPM_SQL} IS NULL", _BPM_SQL),
    "energy": ("f.energy IS NULL", "f.energy"),
    "key": ("f.key IS NULL", "f.key", "f.mode"),
    "added": ("t.added_at",),
    "path": ("t.path",),
    "format": ("t.codec IS NULL", "t.codec", "t.bitrate"),
    "liked": ("(l.track_id IS NULL)",),
}

_JOINS = """
    FROM tracks AS t
    LEFT JOIN track_stats AS s ON s.track_id = t.id
    LEFT JOIN features AS f ON f.track_id = t.id
    LEFT JOIN likes AS l ON l.track_id = t.id
"""

# Joins each sort key needs: a plain title sort must not pay for three LEFT JOINs.
_SORT_JOINS: dict[str, str] = {
    "play_count": "LEFT JOIN track_stats AS s ON s.track_id = t.id",
    "last_played": "LEFT JOIN track_stats AS s ON s.track_id = t.id",
    "bpm": "LEFT JOIN features AS f ON f.track_id = t.id",
    "energy": "LEFT JOIN features AS f ON f.track_id = t.id",
    "key": "LEFT JOIN features AS f ON f.track_id = t.id",
    "liked": "LEFT JOIN likes AS l ON l.track_id = t.id",
}

# A list of a track's artists (genres): the JSON column when the scanner filled it, else
# the joined display column as a one-element list.
_ARTISTS_JSON = "coalesce(t.artists, json_array(t.artist))"
_GENRES_JSON = "coalesce(t.genres, json_array(t.genre))"


@dataclass(frozen=True, slots=True)
class TrackFilter:
    """What the song table shows: everything, or the tracks of one artist, genre, album
    or explicit id list (search results, a playlist)."""

    artist: str | None = None
    genre: str | None = None
    album: str | None = None
    album_artist: str | None = None  # with album: coalesce(albumartist, artist)
    ids: tuple[TrackId, ...] | None = None
    include_missing: bool = False


@dataclass(frozen=True, slots=True)
class TrackRow:
    """One row of the song table: the track's tags joined with its stats and features."""

    id: TrackId
    title: str
    artist: str | None = None
    album: str | None = None
    albumartist: str | None = None
    genre: str | None = None
    year: int | None = None
    tracknumber: int | None = None
    discnumber: int | None = None
    duration_s: float | None = None
    path: str = ""
    codec: str | None = None
    bitrate: int | None = None
    added_at: float | None = None
    cover_hash: str | None = None
    play_count: int = 0
    skip_count: int = 0
    last_played: float | None = None
    bpm: float | None = None
    energy: float | None = None
    key: str | None = None
    mode: str | None = None
    liked: bool = False


@dataclass(frozen=True, slots=True)
class AlbumRow:
    """One album: grouped by (album artist or artist, album title)."""

    title: str
    artist: str | None
    year: int | None
    track_count: int
    duration_s: float
    cover_hash: str | None = None
    thumb_path: str | None = None
    image_path: str | None = None


@dataclass(frozen=True, slots=True)
class NameCount:
    """An artist or genre with how many tracks carry it."""

    name: str
    track_count: int


@dataclass(frozen=True, slots=True)
class RootRow:
    """A library folder with its scan state and how much of it is analysed."""

    id: int
    path: str
    last_scan_at: float | None
    last_scan_status: str | None
    track_count: int
    analyzed_count: int
    failed_count: int = 0  # tracks whose analysis failed (`timbre errors` says why)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One play in the history list."""

    play_id: int
    track_id: TrackId | None
    started_at: float
    title: str | None
    artist: str | None
    album: str | None
    end_reason: str | None
    source: str | None
    heard_ms: int


@dataclass(slots=True)
class TrackDetail:
    """Everything the Properties dialog shows about one track."""

    tags: dict[str, object] = field(default_factory=dict)
    file: dict[str, object] = field(default_factory=dict)
    features: dict[str, object] = field(default_factory=dict)
    stats: dict[str, object] = field(default_factory=dict)


def _where(flt: TrackFilter) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if not flt.include_missing:
        clauses.append("t.missing = 0")
    if flt.artist is not None:
        clauses.append(
            f"(EXISTS (SELECT 1 FROM json_each({_ARTISTS_JSON}) WHERE value = ? COLLATE NOCASE)"
            " OR t.albumartist = ? COLLATE NOCASE)"
        )
        params += [flt.artist, flt.artist]
    if flt.genre is not None:
        clauses.append(
            f"EXISTS (SELECT 1 FROM json_each({_GENRES_JSON}) WHERE value = ? COLLATE NOCASE)"
        )
        params.append(flt.genre)
    if flt.album is not None:
        clauses.append("t.album = ?")
        params.append(flt.album)
        if flt.album_artist is not None:
            clauses.append("coalesce(t.albumartist, t.artist) = ?")
            params.append(flt.album_artist)
    if flt.ids is not None:
        clauses.append("t.id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps([int(i) for i in flt.ids]))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def track_ids(
    conn: sqlite3.Connection,
    flt: TrackFilter = TrackFilter(),
    *,
    sort: str = "artist",
    descending: bool = False,
) -> list[TrackId]:
    """Return the ids of the tracks matching flt, in the order of one sort key.

    A filter with ids and sort "" keeps the ids' own order (search rank, playlist order).
    """
    if flt.ids is not None and not sort:
        present = set(track_ids(conn, flt, sort="track"))
        return [i for i in flt.ids if i in present]
    if sort not in SORT_EXPRESSIONS:
        raise ValueError(f"unknown sort key {sort!r}")
    where, params = _where(flt)
    direction = " DESC" if descending else ""
    # Apply the direction to every term of a compound key except the NULLs-last guards,
    # then break ties by id so the order is stable between calls.
    order = ", ".join(
        term if term.endswith("IS NULL") else f"{term}{direction}"
        for term in SORT_EXPRESSIONS[sort]
    )
    sql = f"SELECT t.id FROM tracks AS t {_SORT_JOINS.get(sort, '')}{where} ORDER BY {order}, t.id"
    return [TrackId(r[0]) for r in conn.execute(sql, params)]


_ROW_SQL = f"""
    SELECT t.id, t.title, t.artist, t.album, t.albumartist, t.genre, t.year, t.tracknumber,
           t.discnumber, t.duration_s, t.path, t.codec, t.bitrate, t.added_at, t.cover_hash,
           coalesce(s.play_count, 0), coalesce(s.skip_count, 0), s.last_played,
           {_BPM_SQL}, f.energy, f.key, f.mode, l.track_id IS NOT NULL
    {_JOINS}
"""


def rows(conn: sqlite3.Connection, ids: Iterable[TrackId]) -> dict[TrackId, TrackRow]:
    """Return the rows of the given tracks by id (ids no longer in the library are absent)."""
    id_list = [int(i) for i in ids]
    out: dict[TrackId, TrackRow] = {}
    # json_each keeps the statement the same for any number of ids (no 999-variable
    # limit), and joining from it makes each id a primary-key lookup.
    sql = _ROW_SQL.replace("FROM tracks AS t",
                           "FROM json_each(?) AS j JOIN tracks AS t ON t.id = j.value")
    for r in conn.execute(sql, (json.dumps(id_list),)):
        out[TrackId(r[0])] = TrackRow(
            id=TrackId(r[0]), title=r[1], artist=r[2], album=r[3], albumartist=r[4],
            genre=r[5], year=r[6], tracknumber=r[7], discnumber=r[8], duration_s=r[9],
            path=r[10], codec=r[11], bitrate=r[12], added_at=r[13], cover_hash=r[14],
            play_count=r[15], skip_count=r[16], last_played=r[17], bpm=r[18], energy=r[19],
            key=r[20], mode=r[21], liked=bool(r[22]),
        )
    return out


def row(conn: sqlite3.Connection, track_id: TrackId) -> TrackRow | None:
    """Return one track's row, or None when it is gone."""
    return rows(conn, [track_id]).get(track_id)


def track_count(conn: sqlite3.Connection) -> int:
    """Return how many tracks the library holds (missing ones excluded)."""
    return int(conn.execute("SELECT count(*) FROM tracks WHERE missing = 0").fetchone()[0])


def revision(conn: sqlite3.Connection) -> tuple[object, ...]:
    """Return a cheap fingerprint of the library for polling while a job runs.

    It changes when tracks are added or removed, features stored, or folders scanned;
    retagged tracks are seen when the job ends (the window then refreshes anyway).
    """
    return tuple(conn.execute(
        """SELECT (SELECT count(*) FROM tracks), (SELECT max(id) FROM tracks),
                  (SELECT count(*) FROM features), (SELECT max(last_scan_at) FROM roots),
                  (SELECT count(*) FROM roots)""").fetchone())


def is_empty(conn: sqlite3.Connection) -> bool:
    """Return True when the library has no folders and no tracks (the first run)."""
    has_root = conn.execute("SELECT 1 FROM roots LIMIT 1").fetchone()
    has_track = conn.execute("SELECT 1 FROM tracks LIMIT 1").fetchone()
    return has_root is None and has_track is None


def albums(conn: sqlite3.Connection) -> list[AlbumRow]:
    """Return every album, sorted by artist then title, with a cover when one is known."""
    sql = """
        SELECT a.album, a.artist, a.year, a.n, a.duration, a.cover_hash, c.thumb_path,
               c.image_path
        FROM (
            SELECT t.album AS album, coalesce(t.albumartist, t.artist) AS artist,
                   min(t.year) AS year, count(*) AS n, total(t.duration_s) AS duration,
                   max(t.cover_hash) AS cover_hash
            FROM tracks AS t
            WHERE t.album IS NOT NULL AND t.album != '' AND t.missing = 0
            GROUP BY coalesce(t.albumartist, t.artist), t.album
        ) AS a
        LEFT JOIN covers AS c ON c.hash = a.cover_hash
        ORDER BY a.artist IS NULL, a.artist COLLATE NOCASE, a.year, a.album COLLATE NOCASE
    """
    return [
        AlbumRow(title=r[0], artist=r[1], year=r[2], track_count=r[3], duration_s=r[4],
                 cover_hash=r[5], thumb_path=r[6], image_path=r[7])
        for r in conn.execute(sql)
    ]


def _names(conn: sqlite3.Connection, json_expr: str) -> list[NameCount]:
    sql = f"""
        SELECT min(j.value), count(DISTINCT t.id)
        FROM tracks AS t, json_each({json_expr}) AS j
        WHERE t.missing = 0 AND j.value IS NOT NULL AND trim(j.value) != ''
        GROUP BY j.value COLLATE NOCASE
        ORDER BY j.value COLLATE NOCASE
    """
    return [NameCount(r[0], r[1]) for r in conn.execute(sql)]


def artists(conn: sqlite3.Connection) -> list[NameCount]:
    """Return every artist name with its track count, sorted."""
    return _names(conn, _ARTISTS_JSON)


def genres(conn: sqlite3.Connection) -> list[NameCount]:
    """Return every genre with its track count, sorted."""
    return _names(conn, _GENRES_JSON)


def roots(conn: sqlite3.Connection) -> list[RootRow]:
    """Return the library folders with their track and analysed counts."""
    sql = """
        SELECT r.id, r.path, r.last_scan_at, r.last_scan_status,
               (SELECT count(*) FROM tracks AS t WHERE t.root_id = r.id),
               (SELECT count(*) FROM tracks AS t JOIN features AS f ON f.track_id = t.id
                WHERE t.root_id = r.id),
               -- from the (few) errors to their tracks: CROSS JOIN keeps SQLite from
               -- walking the folder's every track instead (0.2 ms, not 37, at 100,000)
               (SELECT count(*) FROM analysis_errors AS e CROSS JOIN tracks AS t
                ON t.id = e.track_id WHERE t.root_id = r.id
                  AND NOT EXISTS (SELECT 1 FROM features AS f WHERE f.track_id = t.id))
        FROM roots AS r ORDER BY r.path
    """
    return [RootRow(*r) for r in conn.execute(sql)]


def track_ids_in_root(conn: sqlite3.Connection, root_id: int) -> list[TrackId]:
    """Return the tracks of one music folder in path order."""
    sql = "SELECT id FROM tracks WHERE root_id = ? ORDER BY path"
    return [TrackId(r[0]) for r in conn.execute(sql, (root_id,))]


def unanalyzed_count(conn: sqlite3.Connection) -> int:
    """Return how many present tracks have no features and no analysis error yet."""
    return int(conn.execute(
        """SELECT count(*) FROM tracks AS t
           WHERE t.missing = 0
             AND NOT EXISTS (SELECT 1 FROM features AS f WHERE f.track_id = t.id)
             AND NOT EXISTS (SELECT 1 FROM analysis_errors AS e WHERE e.track_id = t.id)"""
    ).fetchone()[0])


def history(conn: sqlite3.Connection, limit: int = 500) -> list[HistoryRow]:
    """Return the most recent plays, newest first."""
    sql = """SELECT id, track_id, started_at, title, artist, album, end_reason, source,
                    coalesce(heard_ms, 0)
             FROM plays ORDER BY started_at DESC, id DESC LIMIT ?"""
    return [
        HistoryRow(r[0], None if r[1] is None else TrackId(r[1]), *r[2:])
        for r in conn.execute(sql, (limit,))
    ]


def is_liked(conn: sqlite3.Connection, track_id: TrackId) -> bool:
    """Return True when the user liked the track."""
    return conn.execute("SELECT 1 FROM likes WHERE track_id = ?", (track_id,)).fetchone() is not None


def cover_paths(conn: sqlite3.Connection, track_id: TrackId) -> tuple[str | None, str | None]:
    """Return (thumbnail, full image) paths of a track's cover, either may be None."""
    r = conn.execute(
        """SELECT c.thumb_path, c.image_path FROM tracks AS t
           JOIN covers AS c ON c.hash = t.cover_hash WHERE t.id = ?""",
        (track_id,),
    ).fetchone()
    return (r[0], r[1]) if r else (None, None)


_TAG_COLUMNS = (
    "title", "artist", "album", "albumartist", "tracknumber", "tracktotal", "discnumber",
    "disctotal", "date", "year", "genre", "composer", "bpm", "compilation",
    "mb_recording_id", "mb_release_id", "mb_artist_id", "rg_track_gain", "rg_track_peak",
    "rg_album_gain", "rg_album_peak",
)
_FILE_COLUMNS = (
    "path", "size", "mtime_ns", "duration_s", "bitrate", "sample_rate", "channels", "codec",
    "cover_hash", "fingerprint", "added_at", "updated_at", "missing",
)
_FEATURE_COLUMNS = (
    "version", "analyzed_at", "tempo_bpm", "tempo_confidence", "key", "mode",
    "key_confidence", "loudness_db", "dynamic_range_db", "energy", "brightness",
    "danceability", "acousticness",
)


def track_detail(conn: sqlite3.Connection, track_id: TrackId) -> TrackDetail | None:
    """Return all tags, file info, audio features and stats of one track."""
    cols = _TAG_COLUMNS + _FILE_COLUMNS
    r = conn.execute(f"SELECT {', '.join(cols)} FROM tracks WHERE id = ?", (track_id,)).fetchone()
    if r is None:
        return None
    values = dict(zip(cols, r, strict=True))
    detail = TrackDetail(
        tags={k: values[k] for k in _TAG_COLUMNS if values[k] not in (None, "")},
        file={k: values[k] for k in _FILE_COLUMNS if values[k] is not None},
    )
    f = conn.execute(
        f"SELECT {', '.join(_FEATURE_COLUMNS)} FROM features WHERE track_id = ?", (track_id,)
    ).fetchone()
    if f is not None:
        detail.features = {k: v for k, v in zip(_FEATURE_COLUMNS, f, strict=True) if v is not None}
    err = conn.execute(
        "SELECT reason FROM analysis_errors WHERE track_id = ?", (track_id,)
    ).fetchone()
    if err is not None:
        detail.features["analysis error"] = err[0]
    s = conn.execute(
        """SELECT play_count, skip_count, first_played, last_played, heard_ms
           FROM track_stats WHERE track_id = ?""",
        (track_id,),
    ).fetchone()
    if s is not None:
        detail.stats = dict(zip(
            ("play_count", "skip_count", "first_played", "last_played", "heard_ms"), s,
            strict=True,
        ))
    detail.stats["liked"] = is_liked(conn, track_id)
    stars = feedback.rating(conn, track_id)
    detail.stats["rating"] = "★" * stars if stars else "not rated"
    return detail


def fts_query(text: str) -> str | None:
    """Turn typed text into an FTS5 prefix query; None when there is nothing to search.

    Each word becomes a quoted prefix term, so punctuation in what the user typed is
    never FTS syntax.
    """
    words = [w for w in text.replace('"', " ").split() if w]
    if not words:
        return None
    return " ".join(f'"{w}"*' for w in words)


RANK_AT_MOST = 3000  # rank matches by relevance only when there are this few


def search_ids(conn: sqlite3.Connection, text: str, limit: int = 500) -> list[TrackId]:
    """Return the tracks matching typed text over the full-text index, best first.

    Ranking reads every match, which a one-letter prefix makes most of the library; so
    a query matching more than RANK_AT_MOST tracks returns the first `limit` unranked
    (the next letter typed narrows it). Title matches weigh most, then artist, album.
    """
    query = fts_query(text)
    if query is None:
        return []
    many = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM tracks_fts WHERE tracks_fts MATCH ? LIMIT ?)",
        (query, RANK_AT_MOST),
    ).fetchone()[0] >= RANK_AT_MOST
    order = "" if many else "ORDER BY bm25(tracks_fts, 10.0, 6.0, 3.0, 2.0, 1.0, 1.0)"
    sql = f"""SELECT m.id FROM (
                  SELECT rowid AS id FROM tracks_fts WHERE tracks_fts MATCH ? {order} LIMIT ?
              ) AS m JOIN tracks AS t ON t.id = m.id WHERE t.missing = 0"""
    return [TrackId(r[0]) for r in conn.execute(sql, (query, limit))]


def ids_by_album(conn: sqlite3.Connection, album: str, album_artist: str | None) -> list[TrackId]:
    """Return an album's tracks in disc and track order."""
    return track_ids(conn, TrackFilter(album=album, album_artist=album_artist), sort="track")


def paths(conn: sqlite3.Connection, ids: Sequence[TrackId]) -> dict[TrackId, str]:
    """Return the display paths of tracks by id."""
    return {
        TrackId(r[0]): r[1]
        for r in conn.execute(
            "SELECT id, path FROM tracks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([int(i) for i in ids]),),
        )
    }
