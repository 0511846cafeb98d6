"""The play queue: what plays now and next, kept in the `state` table across restarts.

A plain object without Qt: the playback engine drives it and saves it after each change.
Shuffle reorders the upcoming items (those after the current one) and remembers the
original order, so turning it off puts them back.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from player.db import transaction
from player.models import SOURCES, TrackId

QUEUE_KEY = "playback.queue"
POSITION_KEY = "playback.position"
REPEAT_MODES = ("off", "track", "queue")
LOW_WATER = 3  # a radio's or For you's queue asks for more when this few tracks are left


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One entry of the queue; uid tells two entries of the same track apart."""

    uid: int
    track_id: TrackId
    source: str = "library"
    source_ref: str | None = None
    why: str | None = None  # why a recommender queued it (radio, For you)


@dataclass(frozen=True, slots=True)
class PlayableTrack:
    """What the engine and MPRIS need to play and describe one library track."""

    id: TrackId
    path_bytes: bytes
    title: str
    artists: tuple[str, ...] = ()
    album: str | None = None
    albumartist: str | None = None
    tracknumber: int | None = None
    duration_s: float | None = None
    rg_track_gain: float | None = None
    rg_track_peak: float | None = None
    rg_album_gain: float | None = None
    rg_album_peak: float | None = None
    cover_path: str | None = None

    @property
    def path(self) -> str:
        """Return the path as a str (surrogate-escaped when it is not valid UTF-8)."""
        return os.fsdecode(self.path_bytes)

    @property
    def artist(self) -> str | None:
        """Return the artists joined for display."""
        return "; ".join(self.artists) or None


def load_tracks(conn: sqlite3.Connection, ids: Iterable[TrackId]) -> dict[TrackId, PlayableTrack]:
    """Return the playable tracks among ids (unknown ids are left out)."""
    wanted = list(dict.fromkeys(ids))
    found: dict[TrackId, PlayableTrack] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            f"""SELECT t.id, t.path_bytes, t.title, t.artist, t.artists, t.album, t.albumartist,
                       t.tracknumber, t.duration_s, t.rg_track_gain, t.rg_track_peak,
                       t.rg_album_gain, t.rg_album_peak, c.image_path
                FROM tracks AS t LEFT JOIN covers AS c ON c.hash = t.cover_hash
                WHERE t.id IN ({','.join('?' * len(chunk))})""",
            chunk,
        )
        for r in rows:
            found[TrackId(r[0])] = PlayableTrack(
                id=TrackId(r[0]), path_bytes=bytes(r[1]), title=r[2] or "",
                artists=_artists(r[4], r[3]), album=r[5], albumartist=r[6], tracknumber=r[7],
                duration_s=r[8], rg_track_gain=r[9], rg_track_peak=r[10], rg_album_gain=r[11],
                rg_album_peak=r[12], cover_path=r[13],
            )
    return found


def _artists(artists_json: str | None, artist: str | None) -> tuple[str, ...]:
    if artists_json:
        try:
            value = json.loads(artists_json)
        except ValueError:
            value = None
        if isinstance(value, list):
            return tuple(str(a) for a in value if a)
    if artist:
        return tuple(a.strip() for a in artist.split(";") if a.strip())
    return ()


def ran_out(what: str) -> str:
    """Say that a radio or For you ("the radio") has nothing left to queue."""
    return f"{what} has offered every track of the library that fits: it ends with the queue"


class PlayQueue:
    """An ordered list of items with a current index (-1: nothing current)."""

    def __init__(self) -> None:
        self.items: list[QueueItem] = []
        self.current: int = -1
        self.shuffle: bool = False
        self._unshuffled: list[int] = []  # uids of the upcoming items in their real order
        self._uids = itertools.count(1)
        self._rng = random.Random()

    # -- reading -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def current_item(self) -> QueueItem | None:
        """Return the item playing now, or None."""
        return self.items[self.current] if 0 <= self.current < len(self.items) else None

    def next_index(self, repeat: str) -> int | None:
        """Return the index that follows the current one under a repeat mode, or None."""
        if not self.items:
            return None
        if repeat == "track" and self.current >= 0:
            return self.current
        if self.current + 1 < len(self.items):
            return self.current + 1
        return 0 if repeat == "queue" else None

    def running_low(self, repeat: str) -> str | None:
        """Return "radio" or "foryou" when the track playing came from one and fewer than
        LOW_WATER tracks follow it (with repeat off): time to ask it for more; else None."""
        item = self.current_item()
        if item is None or repeat != "off" or item.source not in ("radio", "foryou"):
            return None
        return item.source if len(self.items) - self.current - 1 < LOW_WATER else None

    def still_ahead(self) -> set[TrackId]:
        """Return the tracks a refill must not queue again: those still to play, the one
        playing and the one before it (with a crossfade, its play is stored after the next
        starts). A track further back was heard long enough ago for For you to judge."""
        return {i.track_id for i in self.items[max(0, self.current - 1):]}

    def previous_index(self) -> int | None:
        """Return the index before the current one, or None at the start."""
        return self.current - 1 if self.current > 0 else None

    # -- changing ------------------------------------------------------------------
    def _new(self, ids: Sequence[TrackId], source: str, source_ref: str | None,
             why: Mapping[TrackId, str] | None = None) -> list[QueueItem]:
        if source not in SOURCES:
            raise ValueError(f"unknown play source {source!r}; expected one of {SOURCES}")
        why = why or {}
        tids = [TrackId(int(t)) for t in ids]
        return [QueueItem(next(self._uids), t, source, source_ref, why.get(t)) for t in tids]

    def replace(self, ids: Sequence[TrackId], *, start: int = 0, source: str = "library",
                source_ref: str | None = None, why: Mapping[TrackId, str] | None = None) -> None:
        """Make ids the whole queue, current at start (an album, a playlist, For you).

        why: the reason a recommender picked each track, kept with its entry.
        """
        self.items = self._new(ids, source, source_ref, why)
        self.current = min(max(start, 0), len(self.items) - 1) if self.items else -1
        self._unshuffled = []
        if self.shuffle:
            self._shuffle_upcoming()

    def play_now(self, ids: Sequence[TrackId], *, source: str = "library",
                 source_ref: str | None = None) -> None:
        """Insert ids after the current item and make the first of them current."""
        new = self._new(ids, source, source_ref)
        if not new:
            return
        at = self.current + 1
        self.items[at:at] = new
        self._unshuffled[0:0] = [i.uid for i in new[1:]] if self.shuffle else []
        self.current = at

    def play_next(self, ids: Sequence[TrackId], *, source: str = "library",
                  source_ref: str | None = None) -> None:
        """Insert ids right after the current item, in order."""
        new = self._new(ids, source, source_ref)
        at = self.current + 1
        self.items[at:at] = new
        if self.shuffle:
            self._unshuffled[0:0] = [i.uid for i in new]

    def add(self, ids: Sequence[TrackId], *, source: str = "library",
            source_ref: str | None = None, why: Mapping[TrackId, str] | None = None) -> None:
        """Append ids at the end of the queue (why: as in replace)."""
        new = self._new(ids, source, source_ref, why)
        self.items.extend(new)
        if self.shuffle:
            self._unshuffled.extend(i.uid for i in new)
        if self.current < 0 and self.items:
            self.current = 0

    def remove(self, indices: Iterable[int]) -> None:
        """Remove the items at indices; removing the current one makes the next current."""
        doomed = sorted({i for i in indices if 0 <= i < len(self.items)}, reverse=True)
        for i in doomed:
            uid = self.items[i].uid
            del self.items[i]
            if uid in self._unshuffled:
                self._unshuffled.remove(uid)
            if i < self.current:
                self.current -= 1
            elif i == self.current and self.current >= len(self.items):
                self.current = len(self.items) - 1
        if not self.items:
            self.current = -1

    def move(self, src: int, dst: int) -> None:
        """Move the item at src to index dst; the current item stays current."""
        if not (0 <= src < len(self.items)) or not (0 <= dst < len(self.items)) or src == dst:
            return
        current_uid = self.items[self.current].uid if self.current >= 0 else None
        item = self.items.pop(src)
        self.items.insert(dst, item)
        if current_uid is not None:
            self.current = next(i for i, it in enumerate(self.items) if it.uid == current_uid)
        self._unshuffled = []  # a manual order replaces the remembered one

    def clear(self) -> None:
        """Empty the queue."""
        self.items = []
        self.current = -1
        self._unshuffled = []

    def go_to(self, index: int) -> QueueItem | None:
        """Make index current and return its item (None when out of range)."""
        if 0 <= index < len(self.items):
            self.current = index
            return self.items[index]
        return None

    def set_shuffle(self, on: bool) -> None:
        """Shuffle the upcoming items, or put them back in their remembered order."""
        if on == self.shuffle:
            return
        self.shuffle = on
        if on:
            self._shuffle_upcoming()
        else:
            self._unshuffle_upcoming()

    def reshuffle(self) -> None:
        """Shuffle the items after the current one again (repeat-queue wrap-around)."""
        if self.shuffle:
            self._shuffle_upcoming()

    def _shuffle_upcoming(self) -> None:
        upcoming = self.items[self.current + 1 :]
        self._unshuffled = [i.uid for i in upcoming]
        self._rng.shuffle(upcoming)
        self.items[self.current + 1 :] = upcoming

    def _unshuffle_upcoming(self) -> None:
        rank = {uid: n for n, uid in enumerate(self._unshuffled)}
        upcoming = self.items[self.current + 1 :]
        # Items added while shuffled and unknown to the remembered order keep their place last.
        upcoming.sort(key=lambda it: rank.get(it.uid, len(rank)))
        self.items[self.current + 1 :] = upcoming
        self._unshuffled = []

    # -- persistence ---------------------------------------------------------------
    def to_json(self) -> str:
        """Return the queue as JSON for the state table."""
        return json.dumps({
            "items": [asdict(i) for i in self.items], "current": self.current,
            "shuffle": self.shuffle, "unshuffled": self._unshuffled,
        })

    @classmethod
    def from_json(cls, text: str) -> PlayQueue:
        """Rebuild a queue saved by to_json; a damaged value gives an empty queue."""
        queue = cls()
        try:
            data = json.loads(text)
            items = [QueueItem(int(d["uid"]), TrackId(int(d["track_id"])), str(d["source"]),
                               d.get("source_ref"), _text_or_none(d.get("why")))
                     for d in data["items"]]
            current = int(data["current"])
        except (ValueError, KeyError, TypeError):
            return queue
        queue.items = items
        queue.current = current if -1 <= current < len(items) else (0 if items else -1)
        queue.shuffle = bool(data.get("shuffle", False))
        queue._unshuffled = [int(u) for u in data.get("unshuffled", [])]
        queue._uids = itertools.count(max((i.uid for i in items), default=0) + 1)
        return queue

    def drop_missing(self, known: Iterable[TrackId]) -> None:
        """Remove items whose track is no longer in the library."""
        keep = set(known)
        self.remove([n for n, it in enumerate(self.items) if it.track_id not in keep])


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def save_state(conn: sqlite3.Connection, key: str, value: object) -> None:
    """Store one JSON value in the state table."""
    text = value if isinstance(value, str) else json.dumps(value)
    with transaction(conn):
        conn.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, text),
        )


def load_state(conn: sqlite3.Connection, key: str) -> str | None:
    """Return the JSON text stored under key, or None."""
    row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def save_queue(conn: sqlite3.Connection, queue: PlayQueue) -> None:
    """Persist the queue."""
    save_state(conn, QUEUE_KEY, queue.to_json())


def load_queue(conn: sqlite3.Connection) -> PlayQueue:
    """Return the saved queue without the tracks that have left the library."""
    text = load_state(conn, QUEUE_KEY)
    queue = PlayQueue.from_json(text) if text else PlayQueue()
    if queue.items:
        queue.drop_missing(load_tracks(conn, [i.track_id for i in queue.items]))
    return queue
