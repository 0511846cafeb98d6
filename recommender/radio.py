"""Play similar and the radio: tracks like some seeds, steered by what was played since."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from player.models import TrackId
from recommender.explain import aspects_in_words, describe, similar_reason, times
from recommender.picks import WEAK_PICK, Pick, Snapshot, select
from recommender.source import PlayLog

CF_WEIGHT = 0.35  # how much co-listening moves a content score (both are scaled to ~[0, 1])
POOL = 8  # candidates examined per pick wanted
SHORTLIST = 2  # rows scored exactly per candidate examined (others: a coarse estimate)
STEER = 30  # the most recent plays that steer a radio (older ones have faded anyway)


def _unit(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if x.size else 0.0
    return x / np.float32(top) if top > 0 else np.zeros_like(x)


def similar(
    snap: Snapshot,
    seeds: Sequence[int],
    n: int,
    *,
    extra: Sequence[tuple[int, float]] = (),
    avoid: Sequence[int] = (),
    recent: Sequence[int] = (),
    kind: str = "similar",
) -> list[Pick]:
    """Return n picks like the seed rows (and extra (row, weight) pairs; negative = skipped).

    avoid rows are never picked (already played); recent rows are the tracks just heard,
    for artist spacing.
    """
    sim = snap.sim
    seeds = [int(s) for s in seeds if s >= 0]
    weighted = [(s, 1.0) for s in seeds] + [(int(r), w) for r, w in extra if r >= 0]
    if not weighted or n <= 0:
        return []
    rows = np.asarray([r for r, _ in weighted], np.int64)
    w = np.asarray([wt for _, wt in weighted], np.float32)
    pos, neg = w > 0, w < 0
    if not pos.any():  # nothing to go towards
        return []
    # Co-listening reaches few tracks: add it where it is, not over the whole library.
    co_rows, co_val = snap.cf_sparse(rows[pos], w[pos])
    af_rows, af_val = snap.cf_sparse(rows[pos][-1:], np.ones(1, np.float32), after=True)
    wanted = POOL * n + 50  # the candidates select() examines
    # (n_tracks, k). One seed (Play similar on a track): exact on its best rows, many more
    # than are wanted, and on the rows co-listening lifts; estimated elsewhere. The best
    # of a blend of seeds need not be near the top of any one: several are scored exactly.
    per = sim.seed_scores(rows, shortlist=SHORTLIST * wanted if rows.size == 1 else 0,
                          exact=np.concatenate([co_rows, af_rows]))
    # A seed with neither sound nor tags says nothing of what it is like: it does not
    # drag the blend of the others down (it still counts through co-listening).
    blend = pos & (sim.has_audio_[rows] | sim.has_meta_[rows])
    if per.shape[1] == 1:  # Play similar on one track: the scores as they are
        content = per[:, 0]
    elif blend.any():
        content = (per[:, blend] @ w[blend]) / np.float32(w[blend].sum())
    else:
        content = np.full(per.shape[0], -1.0, np.float32)
    # -1: the row shares no space with any seed (no sound, no tags in common to compare):
    # nothing says it is like them, so it is never offered unless co-listening does.
    unknown = content <= np.float32(-1.0)
    if neg.any():  # what was skipped pulls its neighbours down
        content -= 0.5 * np.clip(per[:, neg], 0, None).max(axis=1)
    co_val, af_val = _unit(co_val), _unit(af_val)
    score = content.copy()  # per stays as it was: the reasons read it
    if co_rows.size or af_rows.size:
        reach = np.concatenate([co_rows, af_rows])
        # Per reached row, the larger of the two signals (a row may appear in both).
        order = np.argsort(reach, kind="stable")
        values = np.concatenate([co_val, af_val])[order]
        uniq, first = np.unique(reach[order], return_index=True)
        boost = np.maximum.reduceat(values, first)
        score[uniq] += np.float32(CF_WEIGHT) * boost
        unknown[uniq[boost > 0]] = False
    snap.penalise(score)
    exclude = snap.banned_ | unknown
    exclude[rows] = True
    if len(avoid):
        exclude[np.asarray(avoid, np.int64)] = True
    ranked = sim.top(score, wanted, exclude)
    start = [int(r) for r in recent]
    chosen = select(snap, ranked, n, scores=score, seeds=[*seeds, *avoid], chosen=list(start))[len(start):]

    picks = []
    said = blend if blend.any() else pos  # the seeds whose likeness the reasons weigh
    pos_rows = rows[pos]
    co = _lookup(co_rows, co_val, chosen)
    after = _lookup(af_rows, af_val, chosen)
    bests = [int(pos_rows[np.argmax(per[row, pos])]) for row in chosen]
    group_sims = sim.group_similarity_many(np.asarray(chosen, np.int64), np.asarray(bests, np.int64))
    top = max((float(score[row]) for row in chosen), default=0.0)
    for row, best, groups in zip(chosen, bests, group_sims, strict=True):
        why = _reason(snap, row, best, seeds, co.get(row, 0.0), after.get(row, 0.0),
                      float(per[row, said] @ w[said]) / float(w[said].sum()), groups,
                      weak=float(score[row]) < WEAK_PICK * top)
        picks.append(Pick(TrackId(int(sim.track_ids_[row])), float(score[row]), why, kind))
    return picks


def _lookup(rows: np.ndarray, values: np.ndarray, wanted: Sequence[int]) -> dict[int, float]:
    """Return {row: value} for the wanted rows found in rows."""
    hit = np.isin(rows, np.asarray(wanted, np.int64))
    return dict(zip(rows[hit].tolist(), values[hit].tolist(), strict=True))


def _reason(snap: Snapshot, row: int, best: int, seeds: Sequence[int],
            co: float, after: float, content: float, groups: dict[str, float],
            weak: bool = False) -> str:
    """Say why row was picked: the strongest real evidence first; a weak pick (it only
    filled the list, as in a small library) says so."""
    cf = snap.cf
    parts = []
    if weak and co <= 0.3 and after <= 0.3:
        aspects = snap.sim.shared_aspects(row, best, groups=groups)
        target = describe(snap.track(best))
        return (f"a looser match for {target}: only {aspects_in_words(aspects)}" if aspects
                else f"a looser match for {target}")
    if after > 0.3 and CF_WEIGHT * after > 0.5 * content:
        src = best
        idx = cf.index_of([int(snap.sim.track_ids_[src]), int(snap.sim.track_ids_[row])])
        count = cf.transitions(int(idx[0]), int(idx[1])) if (idx >= 0).all() else 0.0
        if count > 0:
            return f"often played after {describe(snap.track(src))} ({times(max(1, round(count)))})"
    suffix = "" if best in seeds else ", which you just played"
    parts.append(similar_reason(snap, row, best, suffix, groups))
    if co > 0.3:
        parts.append(f"played in the same sessions as {describe(snap.track(best))}")
    return "; ".join(parts)


class Radio:
    """A station that keeps going from its seeds and from what was played and skipped."""

    def __init__(self, snapshot: Callable[[], Snapshot], seeds: Sequence[TrackId],
                 memory: float = 0.8) -> None:
        self._snapshot = snapshot
        self.seeds = list(seeds)
        self.memory = memory  # how fast older plays fade from the steering
        self.history: list[tuple[TrackId, bool]] = []  # (track, skipped), oldest first
        self.given: list[TrackId] = []  # every pick next() returned, in order

    def played(self, track_id: TrackId, skipped: bool = False) -> None:
        """Tell the radio a track was heard (or skipped early)."""
        self.history.append((track_id, skipped))

    def feed(self, log: PlayLog) -> None:
        """Tell the radio about plays from a play log (e.g. the new rows since it started)."""
        for tid, skipped in zip(log.track.tolist(), log.skipped.tolist(), strict=True):
            self.played(TrackId(int(tid)), bool(skipped))

    def next(self, n: int = 10) -> list[Pick]:
        """Return the next n tracks."""
        snap = self._snapshot()
        sim = snap.sim
        seed_rows = [int(r) for r in sim.rows_of(self.seeds) if r >= 0]
        extra: list[tuple[int, float]] = []
        played_rows = sim.rows_of([t for t, _ in self.history])
        steering = list(zip(reversed(self.history), played_rows[::-1], strict=True))
        for age, ((_, skipped), row) in enumerate(steering[:STEER]):
            if row < 0:
                continue
            fade = self.memory ** age
            extra.append((int(row), -0.8 * fade if skipped else 0.6 * fade))
        # Never a track heard since, nor one given before: those are still in the queue
        # or were passed over. The new picks follow the last ones given: spaced from them.
        given_rows = sim.rows_of(self.given)
        avoid = [int(r) for r in (*played_rows, *given_rows) if r >= 0]
        recent = [int(r) for r in (given_rows if len(self.given) else played_rows)[-3:] if r >= 0]
        picks = similar(snap, seed_rows, n, extra=extra, avoid=avoid, recent=recent, kind="radio")
        self.given.extend(p.track_id for p in picks)
        return picks
