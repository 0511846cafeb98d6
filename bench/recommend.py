"""Benchmark the recommendation engine on a synthetic library; prints figures, asserts nothing.

    ./bench/run recommend.py                       # 100,000 tracks, 1,000,000 plays, and 1M tracks
    ./bench/run recommend.py --tracks 20000 --plays 100000 --big 0

Builds an in-memory library (features in the real FEATURE_NAMES layout, clustered so
that neighbours exist; artists, albums, genres, years; a listening history in sessions)
behind the LibrarySource interface, then measures in one run:
- Play similar, ms per query (through the engine: scoring, filters, reasons), and the
  bare numpy brute-force top-k over the same float32 matrix as the baseline;
- how often Play similar's list on the coarse index (a large library is ranked on the
  sound's main directions, the best rows then scored exactly) is the exact search's;
- the same at --big tracks (1,000,000 by default; 0 skips it);
- For you (20 tracks), ms per queue;
- fitting the collaborative model on the plays, seconds;
- the engine's memory: resident-set growth from building it, MB.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from player.models import NOT_THIS, Play, Track, TrackId  # noqa: E402
from recommender.collaborative import CoListening  # noqa: E402
from recommender.engine import Engine, give_back_memory  # noqa: E402
from recommender.features import FEATURE_NAMES  # noqa: E402
from recommender.source import (  # noqa: E402
    DESCRIPTOR_NAMES,
    Bans,
    FeatureMatrix,
    FeedbackEvent,
    PlayLog,
    Revision,
)

DIM = len(FEATURE_NAMES)
GENRES = ("jazz", "rock", "pop", "folk", "metal", "ambient", "classical", "hip hop", "soul",
          "electronic", "blues", "reggae", "country", "punk", "house", "techno")


class SyntheticSource:
    """A library held in arrays; tracks() builds fresh Track objects like a database would."""

    def __init__(self, n_tracks: int, n_plays: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.n = n_tracks
        n_clusters = max(10, n_tracks // 200)
        self.cluster = rng.integers(0, n_clusters, n_tracks)
        centres = rng.normal(0, 1, (n_clusters, DIM)).astype(np.float32)
        self.vectors = centres[self.cluster] + rng.normal(0, 0.5, (n_tracks, DIM)).astype(np.float32)
        self.ids = np.arange(1, n_tracks + 1, dtype=np.int64)
        self.artist = rng.integers(0, max(1, n_tracks // 10), n_tracks)
        self.genre = self.cluster % len(GENRES)
        self.year = 1950 + (self.cluster * 7) % 70
        desc = np.full((n_tracks, len(DESCRIPTOR_NAMES)), np.nan, np.float32)
        desc[:, 0] = rng.uniform(60, 180, n_tracks)
        desc[:, 1] = rng.integers(0, 12, n_tracks)
        desc[:, 2] = rng.integers(0, 2, n_tracks)
        desc[:, 3] = rng.uniform(-20, -5, n_tracks)
        desc[:, 4] = rng.uniform(0, 1, n_tracks)
        self.desc = desc
        self.log = self._history(rng, n_plays, n_clusters)
        # The history never changes here; the product's revision() is a few cached
        # aggregates too (a max over 1,000,000 play ids per query would be timed as ours).
        self.last_play_id = self.log.last_play_id
        self.banned_artists: list[str] = []
        self.feedback_events: list[FeedbackEvent] = []

    def _history(self, rng: np.random.Generator, n_plays: int, n_clusters: int) -> PlayLog:
        """Sessions of ~12 plays, each around a few favourite clusters, over ~3 years."""
        if n_plays == 0:
            return PlayLog.empty()
        lengths = rng.integers(4, 21, n_plays // 4 + 10)
        lengths = lengths[: np.searchsorted(np.cumsum(lengths), n_plays) + 1]
        session = np.repeat(np.arange(lengths.size), lengths)[:n_plays]
        fav_clusters = rng.choice(n_clusters, size=min(40, n_clusters), replace=False)
        session_cluster = fav_clusters[rng.zipf(1.5, lengths.size) % fav_clusters.size]
        by_cluster = np.argsort(self.cluster, kind="stable")
        starts = np.searchsorted(self.cluster[by_cluster], np.arange(n_clusters))
        ends = np.searchsorted(self.cluster[by_cluster], np.arange(n_clusters), side="right")
        c = session_cluster[session]
        # Within a cluster, a few tracks are heavy favourites (zipf), the rest occasional.
        offset = rng.zipf(1.3, n_plays) - 1
        size = np.maximum(ends[c] - starts[c], 1)
        track = self.ids[by_cluster[starts[c] + offset % size]]
        new_session = np.diff(session, prepend=-1) > 0
        # Pauses between sessions are spread so that the whole history spans three years.
        pause = 3 * 365 * 86_400 / lengths.size
        gap = np.where(new_session, rng.uniform(0.5, 1.5, n_plays) * pause + 1800, 200.0)
        started = time.time() - np.cumsum(gap)[-1] - 3600 + np.cumsum(gap)
        skipped = rng.random(n_plays) < 0.12
        fraction = np.where(skipped, rng.uniform(0, 0.3, n_plays), rng.uniform(0.7, 1.0, n_plays))
        return PlayLog.from_columns(track, started, fraction, skipped)

    def tracks(self) -> list[Track]:
        return [
            Track(id=TrackId(int(i)), path=f"/music/{i}.flac", title=f"Song {i}",
                  artist=f"Artist {a}", artists=(f"Artist {a}",), album=f"Album {a}-{i % 3}",
                  genres=(GENRES[g],), year=int(y))
            for i, a, g, y in zip(self.ids.tolist(), self.artist.tolist(), self.genre.tolist(),
                                  self.year.tolist(), strict=True)
        ]

    def feature_matrix(self, version: int) -> FeatureMatrix:
        return FeatureMatrix(version, self.ids, self.vectors, self.desc)

    def play_log(self, after_play_id: int = 0) -> PlayLog:
        if after_play_id == 0:
            return self.log
        keep = self.log.play_id > after_play_id
        return PlayLog(*(getattr(self.log, f)[keep] for f in
                         ("play_id", "track", "started_at", "fraction", "skipped", "count")))

    def plays(self, since: float | None = None) -> Iterator[Play]:
        return iter(())

    def likes(self) -> Mapping[TrackId, float]:
        return {}

    def bans(self) -> Bans:
        return Bans(artists=frozenset(self.banned_artists))

    def feedback(self) -> Sequence[FeedbackEvent]:
        return list(self.feedback_events)

    def moods(self) -> Mapping[TrackId, tuple[str, ...]]:
        return {}

    def revision(self) -> Revision:
        return Revision((self.n,), (self.n,), self.last_play_id,
                        (*self.banned_artists, len(self.feedback_events)))


def _mask_per_track(sim: object, names: Sequence[str]) -> np.ndarray:
    """The ban mask as it was computed before the artist index: every track's names
    normalised on every feedback change (the baseline for the figure above)."""
    from recommender.picks import credited_artists
    from recommender.similarity import normalise_text

    banned = {normalise_text(a) for a in names}
    tracks = sim.tracks_  # type: ignore[attr-defined]
    mask = np.zeros(len(tracks), bool)
    for row, t in enumerate(tracks):
        if t is not None and any(normalise_text(name) in banned for name in
                                 credited_artists(t.artist, t.albumartist, t.artists)):
            mask[row] = True
    return mask


def rss_mb() -> float:
    """Return this process's resident set size in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_similar(engine: Engine, ids: np.ndarray, queries: int,
                  rng: np.random.Generator) -> tuple[float, float]:
    """Return median ms per query of (engine.similar, bare numpy top-k), interleaved.

    The two alternate query by query so that the machine's load falls on both alike.
    The baseline: the same unit-row float32 matrix, one matrix-vector product and
    argpartition per query.
    """
    snap = engine.snapshot()
    x = snap.sim.audio_
    seeds = rng.choice(ids, queries)
    engine.similar([TrackId(int(seeds[0]))], 10)  # warm up
    ours, bare = [], []
    for s in seeds:
        t0 = time.perf_counter()
        engine.similar([TrackId(int(s))], 10)
        t1 = time.perf_counter()
        row = int(snap.sim.rows_of([int(s)])[0])
        scores = x @ x[row]
        top = np.argpartition(-scores, 11)[:11]
        top[np.argsort(-scores[top])]
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        bare.append(t2 - t1)
    return float(np.median(ours)) * 1000, float(np.median(bare)) * 1000


def coarse_agreement(engine: Engine, ids: np.ndarray, queries: int,
                     rng: np.random.Generator) -> tuple[int, int]:
    """Return (queries, Play similar lists identical to the exact search's: same tracks,
    same order, same reasons)."""
    sim = engine.snapshot().sim
    seeds = [TrackId(int(s)) for s in rng.choice(ids, queries)]
    on_coarse = [engine.similar([s], 10) for s in seeds]
    saved, sim.coarse_ = sim.coarse_, None  # the same index, searched exactly
    try:
        exact = [engine.similar([s], 10) for s in seeds]
    finally:
        sim.coarse_ = saved
    same = sum([(p.track_id, p.why) for p in a] == [(p.track_id, p.why) for p in b]
               for a, b in zip(on_coarse, exact, strict=True))
    return queries, same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--plays", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=1_000_000, help="tracks for the large similar test (0: skip)")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(1)

    t0 = time.perf_counter()
    source = SyntheticSource(args.tracks, args.plays)
    print(f"library: {args.tracks:,} tracks x {DIM} features, {len(source.log):,} plays "
          f"(built in {time.perf_counter() - t0:.1f} s)")

    t0 = time.perf_counter()
    cf = CoListening().fit(source.log)
    fit_s = time.perf_counter() - t0
    print(f"collaborative fit on {len(source.log):,} plays: {fit_s:.2f} s "
          f"({cf.cooc_.nnz:,} co-listening pairs, {cf.trans_.nnz:,} transitions)")
    del cf
    gc.collect()

    give_back_memory()  # what the fit above freed is not counted as the engine's
    before = rss_mb()
    t0 = time.perf_counter()
    engine = Engine(source, features_version=1)
    engine.snapshot()
    build_s = time.perf_counter() - t0
    gc.collect()
    print(f"engine build (content index + collaborative fit): {build_s:.2f} s, "
          f"memory {rss_mb() - before:.0f} MB (resident growth)")
    sim = engine.snapshot().sim
    metric = sim.metric_
    print(f"sound space: {sim.audio_.shape[1]} dimensions; " + (
        "no learned directions (genre tags did not pass the held-out check)" if metric is None
        else f"{metric.projection.shape[1]} learned from {len(metric.genres)} genres, held-out "
             f"same-genre precision@10 {metric.precision_before:.3f} -> {metric.precision_after:.3f}"))

    sim_ms, base_ms = bench_similar(engine, source.ids, args.queries, rng)
    print(f"Play similar @ {args.tracks:,}: {sim_ms:.2f} ms/query (engine, with filters and "
          f"reasons); numpy brute-force baseline {base_ms:.2f} ms/query (medians, interleaved)")
    if sim.coarse_ is not None:
        asked, same = coarse_agreement(engine, source.ids, args.queries, rng)
        print(f"  coarse index: {sim.coarse_.shape[1]} of {sim.audio_.shape[1]} dimensions "
              f"({sim.coarse_energy_:.0%} of the sound's energy); lists identical to the exact "
              f"search in {same}/{asked} queries")

    n_fy = 10
    engine.for_you(20)
    t0 = time.perf_counter()
    for _ in range(n_fy):
        engine.for_you(20)
    fy_ms = (time.perf_counter() - t0) / n_fy * 1000
    print(f"For you (20 tracks): {fy_ms:.1f} ms")
    # A ban (or a like, "not this") makes the next For you recompute the ban mask: the
    # first ban of a fitted library also indexes the artists; later ones look them up.
    after_ban = []
    for name in ("Artist 7", "Artist 11", "Artist 13"):
        source.banned_artists.append(name)
        t0 = time.perf_counter()
        engine.for_you(20)
        after_ban.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    old_mask = _mask_per_track(engine.snapshot().sim, source.banned_artists)
    old_ms = (time.perf_counter() - t0) * 1000
    assert np.array_equal(old_mask, engine.snapshot().banned_ & ~sim.analysis_failed_)
    print(f"For you right after banning an artist: {after_ban[0]:.0f} ms the first time, then "
          f"{after_ban[1]:.0f} and {after_ban[2]:.0f} ms (the ban mask the old way, every "
          f"track's names normalised: {old_ms:.0f} ms each time)")
    # Years of "not this": 300 events, then one more; the new one is scored on its own.
    from recommender.picks import feedback_penalty

    source.feedback_events.extend(
        FeedbackEvent(TrackId(int(t)), NOT_THIS, float(k))
        for k, t in enumerate(rng.choice(source.ids, 300, replace=False)))
    engine.for_you(20)
    source.feedback_events.append(FeedbackEvent(TrackId(int(source.ids[5])), NOT_THIS, 301.0))
    t0 = time.perf_counter()
    engine.for_you(20)
    one_more_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    feedback_penalty(engine.snapshot().sim, source.feedback_events)
    all_ms = (time.perf_counter() - t0) * 1000
    print(f"For you right after a 'not this', 300 given before: {one_more_ms:.0f} ms (scoring "
          f"all 301 again, as before: {all_ms:.0f} ms more)")
    del engine
    gc.collect()

    if args.big:
        big = SyntheticSource(args.big, 0, seed=2)
        give_back_memory()
        before = rss_mb()
        t0 = time.perf_counter()
        engine = Engine(big, features_version=1)
        engine.snapshot()
        fit_big = time.perf_counter() - t0
        big_ms, base_big = bench_similar(engine, big.ids, min(args.queries, 50), rng)
        print(f"Play similar @ {args.big:,}: {big_ms:.1f} ms/query (engine; built in {fit_big:.0f} s, "
              f"memory {rss_mb() - before:.0f} MB); numpy brute-force baseline {base_big:.1f} ms/query")
        asked, same = coarse_agreement(engine, big.ids, min(args.queries, 50), rng)
        print(f"  lists identical to the exact search in {same}/{asked} queries")

if __name__ == "__main__":
    main()
