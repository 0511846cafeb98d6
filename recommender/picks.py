"""What every recommender shares: the engine's snapshot, picks with reasons, bans,
feedback penalties, duplicate-free artist-spaced selection and smooth ordering."""

from __future__ import annotations

import math
import weakref
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from player.models import Track, TrackId
from recommender.collaborative import CoListening
from recommender.similarity import DUPLICATE_AUDIO_SIM, ContentSimilarity, normalise_text
from recommender.source import (
    DESCRIPTOR_NAMES,
    LESS_LIKE_THIS,
    NOT_THIS,
    Bans,
    FeatureMatrix,
    FeedbackEvent,
    PlayLog,
)

_TEMPO = DESCRIPTOR_NAMES.index("tempo_bpm")
_KEY = DESCRIPTOR_NAMES.index("key")
_MODE = DESCRIPTOR_NAMES.index("mode")
_LOUD = DESCRIPTOR_NAMES.index("loudness_db")
SMOOTH_WINDOW = 5  # smooth_order chooses each next track among the 5 best left

# "not this" nearly removes a track and dents its close neighbours; "less like this" is
# gentler on the track and reaches further.
FEEDBACK_RULES = {NOT_THIS: (0.05, 30, 0.6), LESS_LIKE_THIS: (0.4, 150, 0.45)}


@dataclass(frozen=True)
class Pick:
    """One recommended track, its score and why it was picked, in words."""

    track_id: TrackId
    score: float
    why: str
    kind: str = "similar"  # similar | radio | favourite | rediscovery | discovery | start


@dataclass
class Snapshot:
    """Everything the engine has read and learned, in content-row space."""

    sim: ContentSimilarity
    cf: CoListening
    log: PlayLog
    likes: Mapping[TrackId, float]
    bans: Bans
    feedback: Sequence[FeedbackEvent]
    moods: Mapping[TrackId, tuple[str, ...]]
    # The raw feature vectors (sim.audio_ is normalised): what the taste model scores.
    features: FeatureMatrix = field(default_factory=lambda: FeatureMatrix.empty(0))
    banned_: np.ndarray = field(init=False)
    penalty_: np.ndarray = field(init=False)
    penalised_: np.ndarray = field(init=False)  # the rows with a penalty (few)
    judged_: np.ndarray = field(init=False)  # True: "not this" or "less like this" was said
    applied_feedback_: tuple[FeedbackEvent, ...] = field(init=False, default=())
    cf_rows_: np.ndarray = field(init=False)
    log_rows_: np.ndarray = field(init=False)
    # Derived from the history, dropped whenever plays are added (see foryou.taste).
    cache_: dict[object, object] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.refresh_feedback()
        self.refresh_history()

    def refresh_history(self) -> None:
        """Recompute the row mappings after plays were added."""
        self.cf_rows_ = self.sim.rows_of(self.cf.items_) if hasattr(self.cf, "items_") else np.zeros(0, np.int64)
        self.log_rows_ = self.sim.rows_of(self.log.track)
        self.cache_ = {}

    def refresh_feedback(self) -> None:
        """Recompute the ban mask and the feedback penalties (only the new events' when
        the earlier ones are unchanged: a "not this" scores the library once, not once
        per event ever given)."""
        self.banned_ = banned_mask(self.sim, self.bans)
        events = tuple(self.feedback)
        done = self.applied_feedback_
        if done and events[:len(done)] == done:
            # On a copy: a recommendation running on another thread may be reading it.
            self.penalty_ = feedback_penalty(self.sim, events[len(done):],
                                             into=self.penalty_.copy())
        else:
            self.penalty_ = feedback_penalty(self.sim, events)
        self.applied_feedback_ = events
        self.penalised_ = np.flatnonzero(self.penalty_ != 1.0)
        self.judged_ = np.zeros(len(self.sim), bool)
        rows = self.sim.rows_of(np.fromiter((int(e.track_id) for e in events), np.int64,
                                            len(events)))
        self.judged_[rows[rows >= 0]] = True

    def penalise(self, score: np.ndarray) -> np.ndarray:
        """Lower the positive scores of the penalised rows, in place; return score."""
        rows = self.penalised_
        if rows.size:
            score[rows] = self.penalised(score[rows], rows)
        return score

    def penalised(self, score: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Return the scores of rows with the positive ones lowered by their penalties."""
        return np.where(score > 0, score * self.penalty_[rows], score)

    def track(self, row: int) -> Track | None:
        """Return the track of a content row."""
        return self.sim.tracks_[row]

    def cf_sparse(self, rows: np.ndarray, weights: np.ndarray, after: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Return (content rows, scores) the profile reaches by co-listening (or "after")."""
        if not hasattr(self.cf, "items_") or self.cf.items_.shape[0] == 0 or rows.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx = self.cf.index_of(self.sim.track_ids_[rows])
        items, values = self.cf.profile_scores_sparse(idx, weights, after=after)
        target = self.cf_rows_[items]
        ok = target >= 0
        return target[ok], values[ok].astype(np.float32)

    def cf_scores(self, rows: np.ndarray, weights: np.ndarray, after: bool = False) -> np.ndarray:
        """Return co-listening (or "played after") scores over content rows, shape (n,)."""
        n = len(self.sim)
        out = np.zeros(n, np.float32)
        if not hasattr(self.cf, "items_") or self.cf.items_.shape[0] == 0 or rows.size == 0:
            return out
        idx = self.cf.index_of(self.sim.track_ids_[rows])
        items, values = self.cf.profile_scores_sparse(idx, weights, after=after)
        target = self.cf_rows_[items]
        ok = target >= 0
        out[target[ok]] = values[ok]
        return out


def credited_artists(artist: str | None, albumartist: str | None,
                     artists: Sequence[str] = ()) -> list[str]:
    """Return every artist name a track credits (artist, album artist, the artists list,
    "A; B" split), as tagged: what an artist ban matches, once normalised."""
    names = [artist or "", albumartist or "", *artists]
    return [part.strip() for name in names for part in name.split(";") if part.strip()]


def banned_mask(sim: ContentSimilarity, bans: Bans) -> np.ndarray:
    """Return True for every row that is never offered: banned, by id or by any of its
    artists, or a file the analysis could not use (it would not play, or play silence)."""
    mask = sim.analysis_failed_.copy()
    if bans.tracks:
        rows = sim.rows_of(np.fromiter(bans.tracks, np.int64, len(bans.tracks)))
        mask[rows[rows >= 0]] = True
    if bans.artists:
        index = _credited_rows(sim)
        for name in {normalise_text(a) for a in bans.artists}:
            if name in index:
                mask[index[name]] = True
    return mask


_CREDITED: weakref.WeakKeyDictionary[
    ContentSimilarity, tuple[object, dict[str, np.ndarray]]] = weakref.WeakKeyDictionary()


def _credited_rows(sim: ContentSimilarity) -> dict[str, np.ndarray]:
    """Return {normalised artist name: the rows crediting it}, built once per fitted
    space: every like or ban recomputes the mask, and normalising each track's names each
    time cost over a second at 100,000 tracks."""
    cached = _CREDITED.get(sim)
    if cached is not None and cached[0] is sim.tracks_:  # not fitted again since
        return cached[1]
    normal: dict[str, str] = {}  # far fewer names than tracks
    rows: dict[str, list[int]] = {}
    for row, t in enumerate(sim.tracks_):
        if t is None:
            continue
        for name in credited_artists(t.artist, t.albumartist, t.artists):
            key = normal.get(name)
            if key is None:
                key = normal[name] = normalise_text(name)
            if key:
                rows.setdefault(key, []).append(row)
    index = {k: np.unique(np.asarray(v, np.int64)) for k, v in rows.items()}
    _CREDITED[sim] = (sim.tracks_, index)
    return index


_PENALTY_CHUNK = 64
"""Feedback events scored at once: a (tracks x events) matrix for years of "not this"
would be hundreds of MB at 100,000 tracks."""


def feedback_penalty(sim: ContentSimilarity, events: Sequence[FeedbackEvent],
                     into: np.ndarray | None = None) -> np.ndarray:
    """Return a multiplier per row (1 = untouched) from "not this" / "less like this".

    into: multipliers already holding earlier events, multiplied in place by these (the
    factors multiply, so events can be applied as they come).
    """
    factor = np.ones(len(sim), np.float32) if into is None else into
    by_kind: dict[str, list[int]] = {}
    for e in events:
        by_kind.setdefault(e.kind, []).append(int(e.track_id))
    for kind, ids in by_kind.items():
        own, reach, strength = FEEDBACK_RULES.get(kind, FEEDBACK_RULES[LESS_LIKE_THIS])
        rows = sim.rows_of(np.asarray(ids, np.int64))
        rows = rows[rows >= 0]
        for start in range(0, rows.size, _PENALTY_CHUNK):
            chunk = rows[start:start + _PENALTY_CHUNK]
            per_seed = sim.seed_scores(chunk)
            for j, row in enumerate(chunk):
                near = sim.top(per_seed[:, j], reach + 1)
                s = np.clip(per_seed[near, j], 0.0, 1.0)
                factor[near] *= 1.0 - strength * s
                factor[row] *= own
    return factor


WEAK_PICK = 0.3  # a pick scoring under 30% of the best one only filled the list


def spaced_artist_cap(n: int, gap: int = 3) -> int:
    """Return how many of n picks one artist may have when it recurs once in gap: every
    slot spacing allows (at least 2)."""
    return max(2, math.ceil(n / gap))


def select(
    snap: Snapshot,
    ranked: Sequence[int] | np.ndarray,
    n: int,
    *,
    scores: np.ndarray | None = None,
    seeds: Sequence[int] = (),
    chosen: list[int] | None = None,
    album_cap: int = 2,
    artist_gap: int = 3,
    artist_cap: int | None = None,
    tolerance: float = 0.2,
) -> list[int]:
    """Pick up to n rows from ranked (best first) and return chosen.

    Never a banned row, a seed, or a duplicate of a seed or of another pick; at most
    album_cap from a seed's album. Artists are spaced: once in artist_gap picks and at
    most artist_cap times, unless the best spaced candidate scores more than tolerance
    (relative) below the best candidate, for a close track by the same artist beats an
    unrelated one; but never more times than spacing can hold (spaced_artist_cap) while
    anything else is left. Weak candidates (under WEAK_PICK of the best of ranked) only
    fill the list: for them spacing always wins. chosen holds rows already picked (kept,
    and extended in place).
    """
    sim = snap.sim
    chosen = [] if chosen is None else chosen
    start = len(chosen)
    artist_key, album_key = sim.artist_keys_, sim.album_keys_
    seed_albums = {album_key[s] for s in seeds} - {""}
    cap = artist_cap or max(2, math.ceil((n + start) / 4))
    # Past this many, an artist's tracks cannot all be spaced: a close match by the same
    # artist may exceed cap, never this, unless nothing else is left.
    hard = max(cap, spaced_artist_cap(n + start, artist_gap))
    blocked = set(chosen) | {int(s) for s in seeds}
    pending = [int(r) for r in ranked if int(r) not in blocked and not snap.banned_[int(r)]]
    same_song = _SameSong(sim, pending)
    for other in (*seeds, *chosen):
        pending = same_song.drop(pending, int(other))
    top = max((float(scores[r]) for r in pending), default=0.0) if scores is not None else 0.0
    album_count: dict[str, int] = {}
    artist_count: dict[str, int] = {}
    for c in chosen:
        album_count[album_key[c]] = album_count.get(album_key[c], 0) + 1
        artist_count[artist_key[c]] = artist_count.get(artist_key[c], 0) + 1

    def spaced(row: int) -> bool:
        artist = artist_key[row]
        if not artist:
            return True
        if artist_count.get(artist, 0) >= cap:
            return False
        recent = chosen[-(artist_gap - 1):] if artist_gap > 1 else []
        return not any(artist_key[c] == artist for c in recent)

    while len(chosen) - start < n and pending:
        first: int | None = None
        pick: int | None = None
        capped: int | None = None  # the best candidate whose artist is at the hard cap
        i = 0
        while i < len(pending):
            row = pending[i]
            # The same song as one picked here: checked when reached, not over the whole
            # pool after every pick (a few candidates are looked at per pick).
            if len(chosen) > start and same_song.any_same(row, chosen[start:]):
                pending.pop(i)
                continue
            album = album_key[row]
            if album and album in seed_albums and album_count.get(album, 0) >= album_cap:
                i += 1
                continue
            if artist_key[row] and artist_count.get(artist_key[row], 0) >= hard:
                capped = i if capped is None else capped
                i += 1
                continue
            if first is None:
                first = i
            if scores is not None:
                best = float(scores[pending[first]])
                if best >= WEAK_PICK * top and float(scores[row]) < best - tolerance * abs(best):
                    break  # the spaced candidates from here on are too weak: keep the best
            if spaced(row):
                pick = i
                break
            i += 1
        if pick is None:
            pick = first if first is not None else capped
        if pick is None:
            break
        row = pending.pop(pick)
        chosen.append(row)
        album_count[album_key[row]] = album_count.get(album_key[row], 0) + 1
        artist_count[artist_key[row]] = artist_count.get(artist_key[row], 0) + 1
    chosen[start:] = space_artists(chosen[start:], artist_key, artist_gap, chosen[:start],
                                   scores=scores)
    return chosen


def space_artists(rows: Sequence[int], keys: Sequence[str], gap: int = 3,
                  before: Sequence[int] = (), *, scores: np.ndarray | None = None) -> list[int]:
    """Reorder rows, keeping rank order where possible, so an artist recurs at most once
    in gap tracks (before: the rows already placed ahead of them).

    With scores, spacing moves a row ahead of a real match (at least WEAK_PICK of the best
    row's score) only when it scores at least half as much: a close track by the same
    artist comes before a much weaker one. The rows that only fill the list are spaced
    freely.
    """
    top = float(np.max(np.asarray(scores)[np.asarray(rows, np.int64)])) if (
        scores is not None and len(rows)) else 0.0
    left = list(rows)
    out: list[int] = []
    placed = list(before)
    while left:
        recent = {keys[r] for r in placed[-(gap - 1):]} - {""} if gap > 1 else set()
        i = next((i for i, r in enumerate(left) if keys[r] not in recent), 0)
        if i and scores is not None and top > 0:
            ahead = float(scores[left[0]])
            if ahead >= WEAK_PICK * top and float(scores[left[i]]) < 0.5 * ahead:
                i = 0
        out.append(left.pop(i))
        placed.append(out[-1])
    return out


class _SameSong:
    """Which of a pool of candidates are the same song as a given row (same title and
    artist, or near-identical sound), with the pool's sound read once: select asks once
    per pick, and converting the float16 rows each time cost more than the search."""

    def __init__(self, sim: ContentSimilarity, pool: Sequence[int]) -> None:
        self.sim = sim
        self.at = {r: i for i, r in enumerate(pool)}
        idx = np.asarray(pool, np.int64)
        self.hash = sim.dup_hash_[idx]
        self.audio = sim.has_audio_[idx]
        self.rec = sim.recording_[idx].astype(np.float32)

    def _cosines(self, of: int, pos: np.ndarray) -> np.ndarray:
        """Return the sound cosine of row `of` with the pool rows at pos."""
        j = self.at.get(of)
        v = self.rec[j] if j is not None else self.sim.recording_[of].astype(np.float32)
        return self.rec[pos] @ v

    def any_same(self, row: int, others: Sequence[int]) -> bool:
        """Whether pool row `row` is the same song as any of others (pool rows too)."""
        sim = self.sim
        key = sim.dup_keys_[row]
        if key and any(sim.dup_keys_[o] == key for o in others):
            return True
        if not self.audio[self.at[row]]:
            return False
        pos = np.fromiter((self.at[o] for o in others), np.int64, len(others))
        return bool(((self._cosines(row, pos) >= DUPLICATE_AUDIO_SIM) & self.audio[pos]).any())

    def drop(self, rows: list[int], of: int) -> list[int]:
        """Return rows (all from the pool) without those that are the same song as `of`."""
        if not rows:
            return rows
        sim = self.sim
        pos = np.fromiter((self.at[r] for r in rows), np.int64, len(rows))
        same = np.zeros(len(rows), bool)
        key = sim.dup_keys_[of]
        if key:
            for i in np.flatnonzero(self.hash[pos] == sim.dup_hash_[of]):
                same[i] = sim.dup_keys_[rows[i]] == key
        if sim.has_audio_[of]:
            same |= (self._cosines(of, pos) >= DUPLICATE_AUDIO_SIM) & self.audio[pos]
        return [r for r, dup in zip(rows, same, strict=True) if not dup]


def _camelot(key: float, mode: float) -> float | None:
    """Return the Camelot wheel position 0..11 of a key (relative majors/minors share it)."""
    if not (np.isfinite(key) and np.isfinite(mode)):
        return None
    k = int(key) if mode >= 0.5 else (int(key) + 3) % 12  # A minor sits with C major
    return float((k * 7) % 12)  # the circle of fifths


def transition_cost(sim: ContentSimilarity, a: int, b: int) -> float:
    """Return how rough going from row a to row b sounds (tempo, key, loudness); 0 = smooth."""
    da, db = sim.descriptors_[a], sim.descriptors_[b]
    cost = 0.0
    ta, tb = da[_TEMPO], db[_TEMPO]
    if np.isfinite(ta) and np.isfinite(tb) and ta > 0 and tb > 0:
        r = abs(math.log2(float(ta / tb)))
        cost += min(r, abs(r - 1.0)) / 0.1  # double or half time mixes well too
    else:
        cost += 0.5
    ca, cb = _camelot(da[_KEY], da[_MODE]), _camelot(db[_KEY], db[_MODE])
    if ca is not None and cb is not None:
        d = abs(ca - cb) % 12
        cost += min(d, 12 - d) / 3.0
    else:
        cost += 0.5
    la, lb = da[_LOUD], db[_LOUD]
    cost += abs(float(la - lb)) / 6.0 if np.isfinite(la) and np.isfinite(lb) else 0.3
    return cost


def smooth_order(snap: Snapshot, rows: Sequence[int], artist_gap: int = 3,
                 rank_weight: float = 0.15, window: int = SMOOTH_WINDOW,
                 strength: Mapping[int, float] | None = None, tolerance: float = 0.3,
                 ) -> list[int]:
    """Order rows (best first) so that each step is smooth, starting from the best,
    artists spaced.

    A greedy walk: the next track is, among the window best left whose artist is not
    among the last ones, the one with the lowest transition cost plus a small penalty for
    its rank. So the order stays near the ranks: a track comes at most window - 1 places
    before its rank (with no window, a smooth step could bring the weakest pick third)
    and, unless artist spacing holds it back, at most window - 1 places after.

    strength: row -> how good a pick it is (higher is better). The window then also leaves
    out tracks more than tolerance (relative) weaker than the best left, so a weak pick
    that only filled the list stays at its end.
    """
    rows = list(rows)
    if len(rows) <= 2:
        return rows
    rank = {r: i for i, r in enumerate(rows)}
    out = [rows[0]]
    left = rows[1:]
    keys = snap.sim.artist_keys_
    while left:
        recent = {keys[r] for r in out[-(artist_gap - 1):]} - {""}
        # An artist with so many tracks left that they only fit spaced if one comes now
        # goes now (its best): left for later, they would end the list side by side. Only
        # among the picks the window may take: the weak ones stay at the end.
        if strength is None:
            able = left
        else:
            floor = max(strength[r] for r in left) * (1.0 - tolerance)
            able = [r for r in left if strength[r] >= floor]
        remaining = Counter(keys[r] for r in able if keys[r])
        urgent = [r for r in able if keys[r] and keys[r] not in recent
                  and (remaining[keys[r]] - 1) * artist_gap + 1 >= len(able)]
        if urgent and len(able) > 1:
            out.append(urgent[0])
            left.remove(urgent[0])
            continue
        spaced = [r for r in left[:window] if keys[r] not in recent]
        if strength is not None and spaced:
            floor = max(strength[r] for r in left) * (1.0 - tolerance)
            spaced = [r for r in spaced if strength[r] >= floor] or spaced[:1]
        overdue = [r for r in spaced if rank[r] <= len(out) - (window - 1)]
        spaced = overdue[:1] or spaced  # nor more than window - 1 places late
        if not spaced:  # the window is all recent artists: the best spaced track after it
            spaced = next(([r] for r in left[window:] if keys[r] not in recent), [])
        if not spaced:
            # Cornered: every track left shares an artist with the last ones. The best of
            # them goes back to the latest place where it clashes with nobody, if any
            # within the window of its rank and it is not a weak pick; else it follows.
            best = min(left, key=lambda r: rank[r])
            earliest = max(1, rank[best] - window + 1)
            if strength is not None and strength[best] < max(strength.values()) * (1 - tolerance):
                earliest = len(out)
            out.insert(_free_slot(out, keys, keys[best], artist_gap, earliest), best)
            left.remove(best)
            continue
        best = min(spaced, key=lambda r: transition_cost(snap.sim, out[-1], r) + rank_weight * rank[r])
        out.append(best)
        left.remove(best)
    return out


def _free_slot(rows: Sequence[int], keys: Sequence[str], key: str, gap: int,
               earliest: int = 1) -> int:
    """Return the latest index (from earliest) where inserting a track of artist key puts
    no other track of it within gap tracks; len(rows) when there is none."""
    for pos in range(len(rows) - 1, max(1, earliest) - 1, -1):
        near = rows[max(0, pos - gap + 1):pos + gap - 1]
        if all(keys[r] != key for r in near):
            return pos
    return len(rows)
