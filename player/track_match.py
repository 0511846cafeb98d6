"""Find the library track a foreign record names: by MusicBrainz id, then artist + title.

Playlist files from other players and listening histories from other services name
songs by tags, not by our ids. `TrackIndex` loads the library once and answers these
look-ups in memory, so matching 100,000 listens costs dictionary look-ups, not queries.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from player.models import TrackId

# Two durations within this many seconds name the same recording (encoders and services
# round differently; a radio edit is usually more than 10 s shorter).
DURATION_TOLERANCE_S = 5.0

_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
# "Title (feat. X)" and "Artist feat. X" name the same song as "Title" and "Artist".
_FEAT = re.compile(r"[\(\[]?\s*\b(?:feat|ft|featuring)\b\.?.*$", re.IGNORECASE)
_ARTIST_SPLIT = re.compile(r"\s*(?:;|,|&|\band\b|/)\s*", re.IGNORECASE)


def normalise(text: str | None) -> str:
    """Return text folded for matching: case, accents, punctuation and spacing ignored.

    "Beyoncé & Jay-Z" and "beyonce and jay z" both become "beyonce and jay z".
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().replace("&", " and ")
    text = _PUNCTUATION.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = text.removeprefix("the ")
    return text


def title_keys(title: str | None) -> list[str]:
    """Return the normalised forms a title may be matched under (with and without feat.)."""
    keys = [normalise(title)]
    if title:
        bare = normalise(_FEAT.sub("", title))
        if bare and bare not in keys:
            keys.append(bare)
    return [k for k in keys if k]


def artist_keys(artist: str | None) -> list[str]:
    """Return the normalised forms an artist credit may be matched under.

    The whole credit first, then without "feat. X", then each named artist.
    """
    if not artist:
        return []
    keys = [normalise(artist), normalise(_FEAT.sub("", artist))]
    keys.extend(normalise(part) for part in _ARTIST_SPLIT.split(_FEAT.sub("", artist)))
    seen: list[str] = []
    for key in keys:
        if key and key not in seen:
            seen.append(key)
    return seen


@dataclass(frozen=True, slots=True)
class _Candidate:
    track_id: TrackId
    album: str
    duration_s: float | None


class TrackIndex:
    """An in-memory index of the library for matching foreign records to tracks."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._by_mbid: dict[str, TrackId] = {}
        self._by_name: dict[tuple[str, str], list[_Candidate]] = {}
        rows = conn.execute(
            "SELECT id, artist, artists, albumartist, title, album, duration_s, "
            "mb_recording_id FROM tracks ORDER BY missing, id"
        )
        for tid, artist, artists_json, albumartist, title, album, duration, mbid in rows:
            track_id = TrackId(tid)
            if mbid:
                self._by_mbid.setdefault(mbid.strip().lower(), track_id)
            names = artist_keys(artist)
            for extra in _json_list(artists_json):
                names.extend(k for k in artist_keys(extra) if k not in names)
            names.extend(k for k in artist_keys(albumartist) if k not in names)
            candidate = _Candidate(track_id, normalise(album), duration)
            for name in names:
                for key in title_keys(title):
                    self._by_name.setdefault((name, key), []).append(candidate)

    def __len__(self) -> int:
        return len({c.track_id for cands in self._by_name.values() for c in cands})

    def match(
        self,
        *,
        artist: str | None,
        title: str | None,
        album: str | None = None,
        duration_s: float | None = None,
        mb_recording_id: str | None = None,
    ) -> TrackId | None:
        """Return the library track these tags name, or None.

        A MusicBrainz recording id wins; otherwise artist + title must match after
        normalisation, and among several candidates the same album, then the closest
        duration, decide. A known duration that differs by more than
        DURATION_TOLERANCE_S from every candidate's means a different recording.
        """
        if mb_recording_id:
            found = self._by_mbid.get(mb_recording_id.strip().lower())
            if found is not None:
                return found
        candidates = self._candidates(artist, title)
        if not candidates:
            return None
        if duration_s and duration_s > 0:
            timed = [c for c in candidates if c.duration_s is None
                     or abs(c.duration_s - duration_s) <= DURATION_TOLERANCE_S]
            if not timed:
                return None
            candidates = timed
        album_key = normalise(album)
        if album_key:
            same_album = [c for c in candidates if c.album == album_key]
            candidates = same_album or candidates
        if duration_s and duration_s > 0:
            candidates = sorted(
                candidates,
                key=lambda c: abs((c.duration_s or duration_s) - duration_s),
            )
        return candidates[0].track_id

    def _candidates(self, artist: str | None, title: str | None) -> list[_Candidate]:
        for name in artist_keys(artist):
            for key in title_keys(title):
                found = self._by_name.get((name, key))
                if found:
                    return found
        return []


def _json_list(value: str | None) -> Iterable[str]:
    """Return the strings of a JSON list column; nothing for NULL or a bad value."""
    if not value:
        return []
    try:
        items = json.loads(value)
    except ValueError:
        return []
    return [str(x) for x in items] if isinstance(items, list) else []
