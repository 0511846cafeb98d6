"""Collaborative signals: sessions, planted co-listening, skips, recency, fold-in of new plays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from player.db import connect
from player.library_source import SqliteLibrarySource
from recommender.collaborative import CoListening, session_ids
from recommender.engine import Engine
from recommender.features import FEATURES_VERSION
from recommender.similarity import ContentSimilarity
from recommender.source import PlayLog
from tests.reco_helpers import DAY, GROUPS, NOW, add_tracks, plays, standard_library


def test_sessions_split_at_thirty_minute_gaps() -> None:
    t = np.array([0, 200, 400, 400 + 31 * 60, 400 + 31 * 60 + 100, 10_000 + 4000], float)
    assert session_ids(t).tolist() == [0, 0, 0, 1, 1, 2]


def _random_history(ids: list, rng: np.random.Generator, sessions: int, start: float) -> list:
    """Sessions of 6 random tracks, a day apart."""
    events = []
    for s in range(sessions):
        base = start + s * DAY
        for k, tid in enumerate(rng.choice(ids, 6, replace=False)):
            events.append((tid, base + k * 240.0, False))
    return events


def test_planted_co_listening_is_found(db_path: Path) -> None:
    conn = connect(db_path)
    ids = add_tracks(conn, [{"title": f"t{i}", "artist": f"a{i}"} for i in range(60)])
    rng = np.random.default_rng(0)
    events = _random_history(ids[2:], rng, 80, NOW - 100 * DAY)
    # Planted: in 15 sessions, track A is followed straight away by track B.
    a, b = ids[0], ids[1]
    for s in range(15):
        at = NOW - 100 * DAY + s * 5 * DAY + 3600.0  # a short session after that day's
        events += [(a, at, False), (b, at + 230.0, False)]
    plays(conn, events)
    log = SqliteLibrarySource(conn).play_log()
    model = CoListening().fit(log, now=NOW)
    ia, ib = model.index_of([a, b])
    neighbours, _ = model.neighbours(int(ia), 3)
    assert neighbours[0] == ib
    assert model.transitions(int(ia), int(ib)) > model.transitions(int(ib), int(ia))
    after = model.after_scores(np.array([ia]), np.ones(1))
    assert int(np.argmax(after)) == ib


def test_early_skip_counts_against_the_pair() -> None:
    # A is followed by B (always skipped) and by C (always heard), equally often.
    track, at, skipped = [], [], []
    for s in range(20):
        base = s * DAY
        nxt = 2 if s % 2 else 3
        track += [1, nxt]
        at += [base, base + 200]
        skipped += [False, nxt == 2]
    log = PlayLog.from_columns(track, at, [1.0 if not k else 0.05 for k in skipped], skipped)
    model = CoListening().fit(log, now=20 * DAY)
    i1, i2, i3 = model.index_of([1, 2, 3])
    scores = model.score_profile(np.array([i1]), np.ones(1))
    assert scores[i3] > 0 > scores[i2]
    assert model.transitions(int(i1), int(i2)) < 0 < model.transitions(int(i1), int(i3))


def test_recent_listening_weighs_more_than_old() -> None:
    # A-B together two years ago, A-C together last month, as often.
    track, at = [], []
    for s in range(10):
        track += [1, 2, 1, 3]
        at += [s * DAY, s * DAY + 200, 700 * DAY + s * DAY, 700 * DAY + s * DAY + 200]
    log = PlayLog.from_columns(track, at, np.ones(len(track)), np.zeros(len(track), bool))
    model = CoListening(half_life_days=90).fit(log, now=730 * DAY)
    i1, i2, i3 = model.index_of([1, 2, 3])
    s = model.score_profile(np.array([i1]), np.ones(1))
    assert s[i3] > 2 * s[i2] > 0


def test_partial_fit_equals_a_full_refit() -> None:
    rng = np.random.default_rng(4)
    n = 400
    at = np.cumsum(np.where(rng.random(n) < 0.1, 5000.0, 200.0))
    log = PlayLog.from_columns(rng.integers(1, 40, n), at, rng.uniform(0.1, 1, n), rng.random(n) < 0.15)
    head = PlayLog(*(getattr(log, f)[:250] for f in ("play_id", "track", "started_at", "fraction", "skipped", "count")))
    tail_parts = [PlayLog(*(getattr(log, f)[a:b] for f in ("play_id", "track", "started_at", "fraction", "skipped", "count")))
                  for a, b in ((250, 251), (251, 330), (330, 400))]
    now = float(at[-1])
    full = CoListening().fit(log, now=now)
    inc = CoListening().fit(head, now=now)
    for part in tail_parts:
        inc.partial_fit(part)

    def dense(m: CoListening, mat: str) -> np.ndarray:
        order = np.argsort(m.items_)
        return getattr(m, mat).toarray()[np.ix_(order, order)]

    assert np.array_equal(np.sort(full.items_), np.sort(inc.items_))
    np.testing.assert_allclose(dense(full, "cooc_"), dense(inc, "cooc_"), atol=1e-4)
    np.testing.assert_allclose(dense(full, "trans_"), dense(inc, "trans_"), atol=1e-4)


def test_a_play_that_ends_updates_the_engine_without_a_rebuild(db_path: Path) -> None:
    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=6)
    plays(conn, [(ids[0], NOW - 3 * DAY + k * 60, False) for k in range(3)])
    engine = Engine(SqliteLibrarySource(conn), features_version=FEATURES_VERSION,
                    similarity=ContentSimilarity(groups=GROUPS))
    before = engine.for_you(10, now=NOW)
    assert engine.rebuilds == 1
    # A track never heard is now played: it counts, and is not offered again right away.
    fresh = next(p.track_id for p in before if p.kind == "discovery")
    plays(conn, [(fresh, NOW - 600, False)])
    after = engine.for_you(10, now=NOW)
    assert engine.rebuilds == 1
    assert fresh not in {p.track_id for p in after}
    snap = engine.snapshot()
    assert snap.cf.play_count(int(snap.cf.index_of([fresh])[0])) == 1


def test_imported_plays_matched_later_reach_the_engine(db_path: Path) -> None:
    from player.db import transaction
    from player.history_import import rematch_unmatched

    conn = connect(db_path)
    ids, _ = standard_library(conn, per_style=4)
    title, artist = conn.execute("SELECT title, artist FROM tracks WHERE id=?", (ids[5],)).fetchone()
    with transaction(conn):  # an imported listen kept unmatched, older than the native play
        conn.execute("INSERT INTO plays (track_id, started_at, fraction, end_reason, source, artist, "
                     "title, imported_from) VALUES (NULL, ?, 1.0, 'imported', 'import', ?, ?, 'scrobbler')",
                     (NOW - 2 * DAY, artist + " (x)", title))
    plays(conn, [(ids[0], NOW - DAY, False)])
    engine = Engine(SqliteLibrarySource(conn), features_version=FEATURES_VERSION,
                    similarity=ContentSimilarity(groups=GROUPS))
    assert engine.snapshot().cf.index_of([ids[5]])[0] == -1  # not matched yet
    with transaction(conn):  # the tags get fixed; a rescan would rematch it
        conn.execute("UPDATE plays SET artist = ? WHERE imported_from IS NOT NULL", (artist,))
    assert rematch_unmatched(conn) == 1
    snap = engine.snapshot()
    assert engine.rebuilds == 1  # the content index was kept; only the history was redone
    assert snap.cf.play_count(int(snap.cf.index_of([ids[5]])[0])) == 1
