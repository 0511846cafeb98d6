"""The For you queue: favourites, rediscoveries and discoveries, each with its reason.

The taste profile is built from the history in one vectorised pass (play counts with
recency decay, completions, skips, likes); it lives in content space (the seeds) and in
co-listening space (the same seeds scored through the collaborative model). A learned
taste model (recommender/taste.py), when it beats its baselines, re-ranks each candidate
pool by how likely the user is to finish the track now, after what they just heard.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from player.models import TrackId
from recommender.collaborative import DAY_S
from recommender.explain import daypart, describe, played_suffix, similar_reason, times, when
from recommender.picks import WEAK_PICK, Pick, Snapshot, select, smooth_order, spaced_artist_cap
from recommender.similarity import normalise_text
from recommender.source import DESCRIPTOR_NAMES

if TYPE_CHECKING:  # the MLP is imported only when a model is used
    from recommender.taste import TasteModel

HEAVY_HALF_LIFE_DAYS = 14.0
LONG_HALF_LIFE_DAYS = 365.0
RECENT_S = 12 * 3600  # a track played in the last 12 hours is not offered again
REDISCOVER_AFTER_DAYS = 30.0
LIKE_BONUS = 3.0
SKIP_PENALTY = 0.7
N_SEEDS = 16
CF_WEIGHT = 0.35
# How much the taste model moves a candidate, in units of its pool's best score: p - mean(p)
# spans at most +-1, so +-0.5 reorders a pool without overriding strong evidence.
TASTE_WEIGHT = 0.5
DAYPARTS = ("late-night", "morning", "afternoon", "evening")

# Moods the analysis can tell from descriptors when no mood tag says so: (column, low, high).
MOOD_RULES: dict[str, list[tuple[str, float, float]]] = {
    "calm": [("energy", 0.0, 0.4)],
    "relaxed": [("energy", 0.0, 0.45)],
    "chill": [("energy", 0.0, 0.45)],
    "energetic": [("energy", 0.65, 1.0)],
    "upbeat": [("energy", 0.55, 1.0), ("tempo_bpm", 110.0, 250.0)],
    "happy": [("mode", 0.5, 1.0), ("danceability", 0.5, 1.0)],
    "sad": [("mode", 0.0, 0.5), ("energy", 0.0, 0.5)],
    "melancholic": [("mode", 0.0, 0.5), ("energy", 0.0, 0.5)],
    "dance": [("danceability", 0.6, 1.0)],
    "danceable": [("danceability", 0.6, 1.0)],
    "acoustic": [("acousticness", 0.6, 1.0)],
    "bright": [("brightness", 0.6, 1.0)],
    "dark": [("brightness", 0.0, 0.4)],
}


class BadLike(ValueError):
    """A --like value that cannot be understood; the message says how to write one."""


@dataclass
class Taste:
    """Per content row: what the history says about each track, shape (n,) each."""

    plays: np.ndarray
    skips: np.ndarray
    plays_30d: np.ndarray
    last: np.ndarray  # unix s of the last play, 0 = never
    rotation: np.ndarray  # heard, fading with a 2-week half-life
    affinity: np.ndarray  # heard with a 1-year half-life, minus skips, plus likes
    liked: np.ndarray
    hour_offset_s: float
    parts: np.ndarray  # (n, 4) plays per DAYPARTS


def taste(snap: Snapshot, now: float) -> Taste:
    """Return the taste profile from the snapshot's history and likes.

    The history part is cached on the snapshot for the hour: decays measured in weeks
    do not move in an hour, and new plays clear the cache.
    """
    key = ("taste", int(now // 3600))
    base = snap.cache_.get(key)
    if not isinstance(base, Taste):
        base = _history_taste(snap, now)
        snap.cache_[key] = base
    liked = np.zeros(len(snap.sim), bool)
    if snap.likes:
        lr = snap.sim.rows_of(list(snap.likes))
        liked[lr[lr >= 0]] = True
    return Taste(base.plays, base.skips, base.plays_30d, base.last, base.rotation,
                 base.affinity + LIKE_BONUS * liked, liked, base.hour_offset_s, base.parts)


def _history_taste(snap: Snapshot, now: float) -> Taste:
    n = len(snap.sim)
    log, rows = snap.log, snap.log_rows_
    ok = rows >= 0
    r, t = rows[ok], log.started_at[ok]
    skipped, frac = log.skipped[ok], log.fraction[ok]
    heard = np.where(skipped, 0.0, np.maximum(frac, 0.05))
    age_days = np.maximum(now - t, 0.0) / DAY_S
    plays = np.bincount(r, weights=~skipped, minlength=n)
    skips = np.bincount(r, weights=skipped, minlength=n)
    plays_30d = np.bincount(r, weights=(~skipped) & (age_days <= 30), minlength=n)
    rotation = np.bincount(r, weights=heard * np.exp2(-age_days / HEAVY_HALF_LIFE_DAYS), minlength=n)
    long = np.exp2(-age_days / LONG_HALF_LIFE_DAYS)
    affinity = np.bincount(r, weights=(heard - SKIP_PENALTY * skipped) * long, minlength=n)
    last = np.zeros(n)
    np.maximum.at(last, r, t)
    offset = float(time.localtime(now).tm_gmtoff)
    # Plays per part of the day, per track: (n, 4), for "your evening listening".
    part = _parts(((t[~skipped] + offset) // 3600 % 24).astype(np.int64))
    parts = np.bincount(r[~skipped] * 4 + part, minlength=4 * n).reshape(n, 4)
    return Taste(plays.astype(np.int64), skips.astype(np.int64), plays_30d.astype(np.int64),
                 last, rotation, affinity, np.zeros(n, bool), offset, parts)


def parse_likes(snap: Snapshot, specs: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """Return (label, matching rows) per "genre:jazz" / "artist:X" / "mood:calm" spec."""
    out = []
    for spec in specs:
        field, sep, value = spec.partition(":")
        field, norm = field.strip().lower(), normalise_text(value)
        if not sep or not norm or field not in ("genre", "artist", "mood"):
            raise BadLike(f"cannot read --like {spec!r}: write genre:NAME, artist:NAME or mood:NAME")
        rows = _match(snap, field, norm)
        out.append((f"{field} {value.strip()}", rows))
    return out


def _match(snap: Snapshot, field: str, norm: str) -> np.ndarray:
    sim = snap.sim
    if field in ("genre", "artist"):
        prefix = f"{field}:"
        hits = [i for i, tok in enumerate(sim.vocab_) if tok.startswith(prefix) and norm in tok[len(prefix):]]
        if not hits:
            return np.zeros(0, np.int64)
        col = sim.meta_[:, hits]
        return np.flatnonzero(np.asarray(col.sum(axis=1)).ravel() > 0)
    tagged = [int(r) for r in sim.rows_of([int(t) for t, moods in snap.moods.items() if norm in moods]) if r >= 0]
    rules = MOOD_RULES.get(norm)
    if rules:
        keep = np.ones(len(sim), bool)
        for col_name, lo, hi in rules:
            v = sim.descriptors_[:, DESCRIPTOR_NAMES.index(col_name)]
            keep &= np.isfinite(v) & (v >= lo) & (v <= hi)
        tagged += np.flatnonzero(keep).tolist()
    elif not tagged:
        raise BadLike(f"unknown mood {norm!r}: known moods are {', '.join(sorted(MOOD_RULES))}")
    return np.unique(np.asarray(tagged, np.int64))


def _unit(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if x.size else 0.0
    return x / np.float32(top) if top > 0 else np.zeros_like(x)


def for_you(
    snap: Snapshot,
    n: int = 20,
    adventurousness: float = 0.3,
    likes: Sequence[str] = (),
    now: float | None = None,
    *,
    taste_model: TasteModel | None = None,
) -> list[Pick]:
    """Return the For you queue: n picks in a smooth order, each with its reason.

    taste_model: the learned model (recommender/taste.py); used only when it counts (it
    beat its baselines on the recent plays).
    """
    now = time.time() if now is None else now
    adventurousness = float(np.clip(adventurousness, 0.0, 1.0))
    groups = parse_likes(snap, likes)
    t = taste(snap, now)
    if not (t.plays.any() or t.liked.any()):
        return cold_start(snap, n, groups)
    sim = snap.sim
    exclude = snap.banned_ | ((t.last > 0) & (now - t.last < RECENT_S))
    pen = snap.penalty_

    # Heavy rotation: played at least twice this month (or liked), by recent weight.
    fav = np.where((t.plays_30d >= 2) | t.liked, t.rotation + 0.2 * t.liked, 0.0) * pen
    gap_days = np.where(t.last > 0, (now - t.last) / DAY_S, np.inf)
    stale = (gap_days >= REDISCOVER_AFTER_DAYS) & ((t.plays >= 3) | t.liked)
    redisc = np.where(stale, np.maximum(t.affinity, 0) * np.clip(gap_days / 90.0, 0, 1), 0.0) * pen

    # Discoveries: close to the strongest tracks of the profile, in both spaces; never
    # from a track the user said "not this" or "less like this" to, however played.
    positive = np.where(snap.banned_ | snap.judged_, 0.0, np.maximum(t.affinity, 0.0))
    seeds = sim.top(positive, N_SEEDS, positive <= 0)
    sw = (positive[seeds] / positive[seeds].max()).astype(np.float32) if seeds.size else np.zeros(0, np.float32)
    per = sim.seed_scores(seeds)
    if seeds.size:
        per *= (0.5 + 0.5 * sw)[None, :]
        arg = per.argmax(axis=1)
        content = np.take_along_axis(per, arg[:, None], axis=1).ravel()
        best = seeds[arg]
    else:
        content = np.zeros(len(sim), np.float32)
        best = np.zeros(len(sim), np.int64)
    del per
    disliked = sim.top(t.skips - t.plays, N_SEEDS // 2, (t.skips - t.plays) <= 0)
    if disliked.size:
        content = content - 0.5 * np.clip(sim.seed_scores(disliked), 0, None).max(axis=1)
    co = _unit(snap.cf_scores(seeds, sw))
    played_rows = snap.log_rows_[snap.log_rows_ >= 0]
    last_rows = played_rows[-3:]
    last_rows = last_rows[~snap.judged_[last_rows]]  # nor "often played after" one
    after = _unit(snap.cf_scores(last_rows, np.ones(last_rows.size, np.float32), after=True))
    asked_for = np.full(len(sim), -1, np.int64)
    for gi, (_, rows) in enumerate(groups):  # --like on top of a history counts as taste
        if rows.size:
            spec_seeds = rows[:: max(1, rows.size // 24)][:24]
            per_spec = np.clip(sim.seed_scores(spec_seeds), 0, None)
            asked = per_spec.max(axis=1)
            asked[rows] = 1.0
            better = asked > content
            content = np.where(better, asked, content)
            best = np.where(better, spec_seeds[per_spec.argmax(axis=1)], best)
            asked_for[better] = gi
    fresh = (t.plays <= 1) & ~t.liked
    disc = np.where(fresh, (content + CF_WEIGHT * np.maximum(co, after)), -np.inf)
    disc = np.where(disc > 0, disc * pen, disc)

    n_disc = round(n * (0.1 + 0.8 * adventurousness))
    n_red = round((n - n_disc) * 0.4)
    n_fav = n - n_disc - n_red
    # Just heard: never offered again, nor another version of them (a remaster, a copy).
    just_heard = [int(r) for r in np.flatnonzero((t.last > 0) & (now - t.last < RECENT_S))]
    scores = {"favourite": fav, "rediscovery": redisc, "discovery": disc}
    wants = {"favourite": n_fav, "rediscovery": n_red, "discovery": n_disc}
    # Each kind's candidate pool, best first: the most any pass below looks at.
    pools = {kind: sim.top(score, 6 * n + 30, exclude | ~(score > 0))
             for kind, score in scores.items()}
    kinds = _choose(snap, pools, scores, wants, n, just_heard)
    by_taste: set[int] = set()
    tasted = None if taste_model is None else _taste_scores(snap, taste_model, pools, scores, now)
    if tasted is not None:
        plain = kinds
        pools = {kind: pool[np.argsort(-tasted[kind][pool], kind="stable")]
                 for kind, pool in pools.items()}
        kinds = _choose(snap, pools, tasted, wants, n, just_heard)
        scores = tasted
        by_taste = set(kinds) - set(plain)  # picked only because of the taste term
    chosen, strength = _interleave(kinds, scores)

    current = daypart(now)
    home = _home_dayparts(t, seeds, current)
    picks = []
    matched = [set(rows.tolist()) for _, rows in groups]
    for row in smooth_order(snap, chosen, strength=strength):
        kind = kinds[row]
        if kind == "discovery" and asked_for[row] >= 0:
            label = groups[int(asked_for[row])][0]
            why = (f"matches what you like: {label}" if row in matched[int(asked_for[row])]
                   else f"{similar_reason(snap, row, int(best[row]))} (you like {label})")
            picks.append(Pick(TrackId(int(sim.track_ids_[row])), float(scores[kind][row]), why, kind))
            continue
        why = ""
        if row in by_taste and taste_model is not None:
            why = _taste_reason(snap, taste_model, row, now)
            if why and t.plays[row] == 0 and t.skips[row] == 0:
                why = f"new to you: {why}"
        if not why:
            why = _reason(snap, t, row, kind, int(best[row]), co[row], after[row],
                          last_rows, seeds, home, current, weak=strength[row] < WEAK_PICK)
        picks.append(Pick(TrackId(int(sim.track_ids_[row])), float(scores[kind][row]), why, kind))
    return picks


def _choose(snap: Snapshot, pools: dict[str, np.ndarray], scores: dict[str, np.ndarray],
            wants: dict[str, int], n: int, just_heard: Sequence[int]) -> dict[int, str]:
    """Pick each kind's share from its pool, then fill up; return row -> kind, in pick order.

    An album heard in the last hours may give as many picks as an artist may (a quarter
    of the list), not select()'s two: Play similar's cap is about not replaying the seed's
    album, but here its favourites used up two places and shut out its tracks never
    heard, the closest discoveries there are.
    """
    chosen: list[int] = []
    kinds: dict[int, str] = {}
    album_cap = max(2, -(-n // 4))
    for kind, want in wants.items():
        before = len(chosen)
        select(snap, pools[kind][: 6 * want + 30], want, scores=scores[kind], seeds=just_heard,
               chosen=chosen, album_cap=album_cap)
        kinds.update((r, kind) for r in chosen[before:])
    for kind in wants:  # a short pool leaves room for the others
        if len(chosen) >= n:
            break
        before = len(chosen)
        select(snap, pools[kind], n - len(chosen), scores=scores[kind], seeds=just_heard,
               chosen=chosen, album_cap=album_cap)
        kinds.update((r, kind) for r in chosen[before:])
    return kinds


def _interleave(kinds: dict[int, str], scores: dict[str, np.ndarray]
                ) -> tuple[list[int], dict[int, float]]:
    """Return the picks in rank order, and each pick's strength within its kind (its score
    over the kind's best, 0..1): for smooth_order, which keeps near the rank order.

    The kinds are spread through the list in proportion, each best first, so favourites,
    rediscoveries and discoveries alternate from the start; the weak picks (under
    WEAK_PICK of their kind's best) that only filled the list come after all the others,
    strongest first.
    """
    strength: dict[int, float] = {}
    for kind in set(kinds.values()):
        rows = [r for r, k in kinds.items() if k == kind]
        values = np.asarray([float(scores[kind][r]) for r in rows])
        top = float(values.max()) if values.max() > 0 else 1.0
        strength.update((r, float(v) / top) for r, v in zip(rows, values, strict=True))
    by_kind: dict[str, list[int]] = {}
    for row, kind in kinds.items():
        if strength[row] >= WEAK_PICK:
            by_kind.setdefault(kind, []).append(row)
    placed = sorted(((j + 0.5) / len(rows), k, row)
                    for k, rows in enumerate(by_kind.values())
                    for j, row in enumerate(sorted(rows, key=lambda r: -strength[r])))
    weak = sorted((r for r in kinds if strength[r] < WEAK_PICK), key=lambda r: -strength[r])
    return [row for _, _, row in placed] + weak, strength


def _feature_rows(snap: Snapshot, rows: np.ndarray) -> np.ndarray:
    """Return the row of snap.features of each content row, -1 when not analysed."""
    ids = snap.features.ids
    if rows.size == 0 or ids.size == 0:
        return np.full(rows.size, -1, np.int64)
    want = snap.sim.track_ids_[rows]
    at = np.minimum(np.searchsorted(ids, want), ids.size - 1)
    return np.where(ids[at] == want, at, -1).astype(np.int64)


def _previous(snap: Snapshot, now: float) -> tuple[TrackId | None, np.ndarray | None]:
    """Return the track heard last and its raw vector, when it is part of this session."""
    from recommender.taste import SESSION_GAP_S

    log = snap.log
    if not len(log) or snap.log_rows_[-1] < 0:
        return None, None
    row = int(snap.log_rows_[-1])
    track = snap.track(row)
    if now - float(log.started_at[-1]) >= SESSION_GAP_S + ((track.duration_s if track else 0) or 0):
        return None, None
    frow = int(_feature_rows(snap, np.array([row]))[0])
    vector = snap.features.vectors[frow] if frow >= 0 else None
    return TrackId(int(log.track[-1])), vector


def _taste_scores(snap: Snapshot, taste: TasteModel, pools: dict[str, np.ndarray],
                  scores: dict[str, np.ndarray], now: float) -> dict[str, np.ndarray] | None:
    """Return each kind's scores plus the taste term over its pool, or None (no taste).

    Only the candidate pools are scored (a few hundred rows). The term is
    TASTE_WEIGHT * (p - mean p) in units of the pool's best score, so it weighs the same
    in favourites (play counts) as in discoveries (similarities).
    """
    from recommender.taste import Context

    if not taste.counts_ or len(snap.features) == 0 \
            or snap.features.vectors.shape[1] != len(taste.feature_names):
        return None
    rows = np.unique(np.concatenate([pool for pool in pools.values()])).astype(np.int64)
    frows = _feature_rows(snap, rows)
    ok = frows >= 0
    if not ok.any():
        return None
    previous, prev_vector = _previous(snap, now)
    p = taste.score_vectors(snap.features.vectors[frows[ok]],
                            [snap.track(int(r)) for r in rows[ok]], Context(now, previous), prev_vector)
    term = np.zeros(len(snap.sim), np.float64)
    term[rows[ok]] = TASTE_WEIGHT * (p - p.mean())
    out = {}
    for kind, score in scores.items():
        adjusted = np.array(score, np.float64)
        pool = pools[kind]
        if pool.size:
            adjusted[pool] += term[pool] * float(np.max(score[pool]))
        out[kind] = adjusted
    return out


def _taste_reason(snap: Snapshot, taste: TasteModel, row: int, now: float) -> str:
    """Say what the taste model saw in a pick it decided; "" when it has nothing kind to say."""
    from recommender.taste import Context

    frow = int(_feature_rows(snap, np.array([row]))[0])
    if frow < 0:
        return ""
    _, prev_vector = _previous(snap, now)
    why = taste.explain(snap.features.vectors[frow], snap.track(row), Context(now), prev_vector)
    return why if why.startswith("you usually finish") else ""


def _parts(hours: np.ndarray) -> np.ndarray:
    """Return the DAYPARTS index of each local hour."""
    return np.select([(hours >= 5) & (hours < 12), (hours >= 12) & (hours < 17),
                      (hours >= 17) & (hours < 22)], [1, 2, 3], 0)


def _home_dayparts(t: Taste, seeds: np.ndarray, current: str) -> dict[int, str]:
    """Return, for each seed mostly played in one part of the day, that part.

    Nothing when nearly all listening happens at the current time of day anyway: then
    "close to your evening listening" would tell the user nothing.
    """
    overall = t.parts.sum(axis=0)
    if overall.sum() == 0 or overall[DAYPARTS.index(current)] >= 0.8 * overall.sum():
        return {}
    out: dict[int, str] = {}
    for seed in seeds:
        counts = t.parts[int(seed)]
        if counts.sum() >= 3 and counts.max() >= 0.6 * counts.sum():
            out[int(seed)] = DAYPARTS[int(counts.argmax())]
    return out


def _reason(snap: Snapshot, t: Taste, row: int, kind: str, best: int, co: float, after: float,
            last_rows: np.ndarray, seeds: np.ndarray, home: dict[int, str], current: str,
            weak: bool = False) -> str:
    """Say why a For you pick was made, from the evidence that made it.

    weak: a discovery far below the best ones (it filled the list): unless co-listening
    speaks for it, it is said to be a change, not "the same era as X".
    """
    if kind == "favourite":
        if t.plays_30d[row] > 0:
            base = f"in heavy rotation: you played it {times(int(t.plays_30d[row]))} this month"
        elif t.plays[row] > 0:
            base = f"a favourite: you played it {times(int(t.plays[row]))}"
        else:
            return "you liked it"
        return f"you liked it; {base}" if t.liked[row] else base
    if kind == "rediscovery":
        base = f"rediscovery: you played it {times(int(t.plays[row]))}, last in {when(t.last[row])}"
        return f"you liked it; {base}" if t.liked[row] else base
    prefix = "new to you: " if t.plays[row] == 0 and t.skips[row] == 0 else ""
    cf = snap.cf
    if after > 0.3 and after >= co and last_rows.size:
        ids = snap.sim.track_ids_[last_rows]
        src_idx = cf.index_of(ids)
        dst = cf.index_of([int(snap.sim.track_ids_[row])])[0]
        if dst >= 0:
            counts = [cf.transitions(int(s), int(dst)) if s >= 0 else 0.0 for s in src_idx]
            j = int(np.argmax(counts))
            if counts[j] > 0:
                return f"{prefix}often played after {describe(snap.track(int(last_rows[j])))}"
    if co > 0.3 and seeds.size:
        dst = cf.index_of([int(snap.sim.track_ids_[row])])[0]
        src_idx = cf.index_of(snap.sim.track_ids_[seeds])
        if dst >= 0:
            vals = [float(cf.cooc_[int(s), int(dst)]) if s >= 0 else 0.0 for s in src_idx]
            j = int(np.argmax(vals))
            if vals[j] > 0:
                src = int(seeds[j])
                return (f"{prefix}often played in the same sessions as {describe(snap.track(src))}"
                        f"{played_suffix(int(t.plays[src]))}")
    if weak:
        usual = "what you usually play" if t.plays.any() else "what you like"
        return f"{prefix}something different from {usual}"
    if home.get(best) == current:
        return f"{prefix}close to your {current} listening ({describe(snap.track(best))})"
    if t.liked[best]:
        return f"{prefix}{similar_reason(snap, row, best, ', which you liked')}"
    return prefix + similar_reason(snap, row, best, played_suffix(int(t.plays[best])))


START_POOL = 2_000  # library rows the varied start is drawn from


def varied_start(snap: Snapshot, n: int, seed: int = 0) -> list[int]:
    """Return rows to start a listener with no history on: the library's sound in regions.

    A pool of up to START_POOL tracks is split into about sqrt(pool) regions (spherical
    k-means on the sound); the regions take turns, biggest first, each offering its most
    typical track next. The first picks then cover the library's styles, where tracks in
    id order would be the first few artists scanned. Before most of the pool is analysed,
    the pool is simply spread over the library.
    """
    sim = snap.sim
    rows = np.flatnonzero(~snap.banned_ & np.fromiter(
        (t is not None for t in sim.tracks_), bool, len(sim)))
    rng = np.random.default_rng(seed)
    pool = np.sort(rng.choice(rows, START_POOL, replace=False)) if rows.size > START_POOL else rows
    heard = pool[sim.has_audio_[pool]]
    k = min(max(1, n), int(np.sqrt(heard.size)))
    if heard.size < max(4, pool.size // 2) or k < 2:
        spread = pool[:: max(1, pool.size // max(n, 1))]
        return [int(r) for r in np.concatenate([spread, np.setdiff1d(pool, spread)])]
    x = sim.audio_[heard]
    picked = [int(rng.integers(heard.size))]  # k-means++: spread the first centres
    far = 1.0 - x @ x[picked[0]]
    for _ in range(1, k):
        weights = np.clip(far, 0, None) ** 2
        picked.append(int(rng.choice(heard.size, p=weights / weights.sum()))
                      if weights.sum() > 0 else int(rng.integers(heard.size)))
        far = np.minimum(far, 1.0 - x @ x[picked[-1]])
    centres = x[picked]
    for _ in range(20):
        labels = np.argmax(x @ centres.T, axis=1)
        new = np.stack([x[labels == c].sum(0) if (labels == c).any() else centres[c]
                        for c in range(k)])
        new /= np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-9)
        if np.allclose(new, centres):
            break
        centres = new
    typical = x @ centres.T  # each track's closeness to each region's centre
    regions = sorted(range(k), key=lambda c: -int((labels == c).sum()))
    queues = [list(heard[labels == c][np.argsort(-typical[labels == c, c])]) for c in regions]
    order: list[int] = []
    for tier in range(max(len(q) for q in queues)):
        order.extend(int(q[tier]) for q in queues if tier < len(q))
    return order + [int(r) for r in pool if not sim.has_audio_[r]]


def cold_start(snap: Snapshot, n: int, groups: list[tuple[str, np.ndarray]]) -> list[Pick]:
    """Build a queue from content alone: what the user said they like, or a varied start."""
    sim = snap.sim
    exclude = snap.banned_
    if not groups:
        # Nothing to go on: one typical track of each region of the library's sound first.
        chosen = select(snap, varied_start(snap, n), n)
        return [Pick(TrackId(int(sim.track_ids_[r])), 0.0,
                     "a varied start from across your library: play, like or skip so Timbre learns",
                     "start") for r in chosen]
    score = np.full(len(sim), -np.inf, np.float32)
    label_of = np.full(len(sim), -1, np.int64)
    seed_of = np.full(len(sim), -1, np.int64)
    per_group: list[np.ndarray] = []
    for gi, (_, rows) in enumerate(groups):
        if rows.size == 0:
            continue
        # A sample spread over the matches keeps a big genre from being one album.
        seeds = rows[:: max(1, rows.size // 24)][:24]
        per = np.clip(sim.seed_scores(seeds), 0, None)
        s = per.max(axis=1)
        s[rows] = np.maximum(s[rows], 1.0)  # a direct match is what was asked for
        snap.penalise(s)
        better = s > score
        score[better] = s[better]
        label_of[better] = gi
        seed_of[better] = seeds[per.argmax(axis=1)][better]
        per_group.append(sim.top(s, 8 * n + 50, exclude))
    if not per_group:
        return []
    # Every like gets its turn: the groups' rankings are interleaved.
    ranked: list[int] = []
    seen: set[int] = set()
    for tier in range(max(len(g) for g in per_group)):
        for g in per_group:
            if tier < len(g) and int(g[tier]) not in seen:
                seen.add(int(g[tier]))
                ranked.append(int(g[tier]))
    # A liked genre may be one artist's: let it fill every slot spacing allows rather than
    # a quarter, before tracks that only share a decade come in.
    chosen = select(snap, ranked, n, artist_cap=spaced_artist_cap(n))
    picks = []
    matched = [set(rows.tolist()) for _, rows in groups]
    for row in smooth_order(snap, chosen):
        label = groups[int(label_of[row])][0]
        if row in matched[int(label_of[row])]:
            why = f"matches what you like: {label}"
        else:
            why = f"{similar_reason(snap, row, int(seed_of[row]))} (you like {label})"
        picks.append(Pick(TrackId(int(sim.track_ids_[row])), float(score[row]), why, "start"))
    return picks
