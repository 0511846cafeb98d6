"""Content similarity and Play similar: known answers on synthetic libraries in real SQLite."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from player.db import connect
from player.library_source import SqliteLibrarySource
from player.models import TrackId
from recommender.engine import Engine
from recommender.explain import aspects_in_words
from recommender.features import FEATURES_VERSION
from recommender.similarity import ContentSimilarity, gaussian_ranks, normalise_text
from recommender.source import FeatureMatrix
from tests.reco_helpers import (
    DIM,
    GROUPS,
    add_features,
    add_tracks,
    clustered_vectors,
    plays,
    standard_library,
)


def _engine(conn, **kw) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(SqliteLibrarySource(conn), features_version=FEATURES_VERSION,
                  similarity=ContentSimilarity(groups=GROUPS, **kw))


def test_tracks_built_close_come_out_close(db_path: Path) -> None:
    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=10)
    engine = _engine(conn)
    style = dict(zip(ids, labels, strict=True))
    for seed in ids[::7]:
        picks = engine.similar([seed], 6)
        assert len(picks) == 6
        assert all(style[p.track_id] == style[seed] for p in picks), (seed, picks)
        # Spacing artists may reorder the rest, but the closest track leads.
        assert picks[0].score == max(p.score for p in picks)


def test_columns_are_standardised_by_rank() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    x = np.column_stack([
        rng.lognormal(0, 2, n),  # heavily skewed, with huge outliers
        rng.integers(0, 2, n).astype(float),  # two values (major/minor)
        np.full(n, 7.0),  # constant
    ])
    x[0, 0] = 1e9  # one absurd value
    z = gaussian_ranks(x)
    # the skewed column comes out standard normal whatever its outliers
    assert abs(z[:, 0].mean()) < 0.02 and abs(z[:, 0].std() - 1) < 0.05
    assert np.all(np.diff(z[np.argsort(x[:, 0]), 0]) >= 0)  # order kept
    assert z[0, 0] == z[:, 0].max() < 4  # the outlier is just the last rank
    # ties share one value: the middle of their run, so the two halves mirror
    low, high = np.unique(z[:, 1])
    assert abs(low + high) < 0.05
    assert np.all(z[:, 2] == 0)  # a constant says nothing


def test_sound_alone_finds_neighbours_of_untagged_tracks(db_path: Path) -> None:
    conn = connect(db_path)
    rng = np.random.default_rng(3)
    centre_a, centre_b = rng.normal(0, 1, DIM), rng.normal(0, 1, DIM)
    # No artist, genre or year: only a title from the file name.
    ids = add_tracks(conn, [{"title": f"file {i}"} for i in range(12)])
    vecs = {tid: (centre_a if i < 6 else centre_b) + rng.normal(0, 0.1, DIM) for i, tid in enumerate(ids)}
    add_features(conn, vecs)
    picks = _engine(conn).similar([ids[0]], 5)
    assert {p.track_id for p in picks} == set(ids[1:6])


def test_tags_alone_find_neighbours_of_unanalysed_tracks(db_path: Path) -> None:
    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=6)
    # A new jazz track not analysed yet: only its tags can place it.
    new = add_tracks(conn, [{"title": "fresh jazz", "artist": "Someone Else", "genres": ["Jazz"],
                             "year": 1961, "path": "/music/new.flac"}])[0]
    picks = _engine(conn).similar([new], 4)
    jazz = {tid for tid, s in zip(ids, labels, strict=True) if s == 0}
    assert picks and all(p.track_id in jazz for p in picks)
    # What they share is a tag: the same genre, not a similar one.
    assert all(p.why.startswith("the same ") and "genre (jazz)" in p.why
               and " as “" in p.why for p in picks)


def test_reasons_say_similar_for_the_sound_and_the_same_for_tags() -> None:
    assert aspects_in_words(["timbre", "tempo"]) == "similar timbre and tempo"
    assert aspects_in_words(["artist", "genre (jazz)"]) == "the same artist and genre (jazz)"
    assert aspects_in_words(["timbre", "era (1960s)"]) == "similar timbre and the same era (1960s)"


def test_group_weights_decide_what_similar_means() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, (40, DIM)).astype(np.float32)
    # Track 1 shares track 0's timbre block only; track 2 shares its rhythm block only.
    base[1, list(GROUPS["timbre"])] = base[0, list(GROUPS["timbre"])]
    base[2, list(GROUPS["rhythm"])] = base[0, list(GROUPS["rhythm"])]
    fm = FeatureMatrix(1, np.arange(1, 41, dtype=np.int64), base,
                       np.full((40, 8), np.nan, np.float32))
    timbre_first = ContentSimilarity(groups=GROUPS, group_weights={"timbre": 1, "rhythm": 0.01,
                                                                    "harmony": 0.01, "loudness": 0.01})
    rhythm_first = ContentSimilarity(groups=GROUPS, group_weights={"timbre": 0.01, "rhythm": 1,
                                                                    "harmony": 0.01, "loudness": 0.01})
    assert timbre_first.fit([], fm).similar(0, 1)[0] == 1
    assert rhythm_first.fit([], fm).similar(0, 1)[0] == 2


def test_top_k_is_exactly_the_k_best_whatever_the_scores() -> None:
    # top() reads a sample to skip most rows; its answer must be a full sort's.
    rng = np.random.default_rng(4)
    sim = ContentSimilarity(groups=GROUPS)
    for n, k, excluded in [(100_000, 130, 0.0), (100_000, 10, 0.3), (100_000, 500, 0.7),
                           (50_000, 20, 0.0), (300, 50, 0.1), (2_000, 2_000, 0.0)]:
        scores = rng.normal(0, 1, n).astype(np.float32)
        scores[: n // 3] = np.round(scores[: n // 3], 1)  # long runs of equal scores
        scores[rng.random(n) < 0.02] = -1.0  # tracks with nothing to compare
        # The best scores all in the rows the sample skips (every 64th row is read).
        skipped = np.flatnonzero(np.arange(n) % 64 != 0)[: k // 2]
        scores[skipped] = 5.0 + rng.random(skipped.size)
        if excluded == 0.3:  # or all in the rows it reads, so that too few pass its threshold
            scores[::64] = 10.0 + rng.random(scores[::64].size)
        exclude = rng.random(n) < excluded
        got = sim.top(scores, k, exclude)
        allowed = np.where(exclude, -np.inf, scores)
        want = np.sort(allowed[allowed > -np.inf])[::-1][:k]
        assert np.array_equal(scores[got], want), (n, k, excluded)
        assert not exclude[got].any() and np.unique(got).size == got.size


def test_a_large_library_is_ranked_coarsely_then_exactly() -> None:
    # Past coarse_min_rows, Play similar ranks on the sound's main directions and scores
    # the best rows exactly: its top must be the exact search's, with the exact scores.
    rng = np.random.default_rng(6)
    n, dim = 6000, 40
    # Correlated columns, as analysed features are: 40 of them driven by 10 hidden ones.
    hidden = rng.normal(0, 1, (60, 10))[rng.integers(0, 60, n)] + rng.normal(0, 0.5, (n, 10))
    x = hidden @ rng.normal(0, 1, (10, dim)) + rng.normal(0, 0.8, (n, dim))
    groups = {"timbre": tuple(range(20)), "harmony": tuple(range(20, 40))}
    fm = FeatureMatrix(1, np.arange(1, n + 1, dtype=np.int64), x.astype(np.float32),
                       np.full((n, 8), np.nan, np.float32))
    coarse = ContentSimilarity(groups=groups, coarse_dims=12, coarse_min_rows=1000).fit([], fm)
    exact = ContentSimilarity(groups=groups, coarse_min_rows=n + 1).fit([], fm)
    assert coarse.coarse_ is not None and coarse.coarse_.shape == (n, 12)
    assert exact.coarse_ is None
    assert 0.2 < coarse.coarse_energy_ < 0.95  # an estimate, not a copy
    for seed in rng.choice(n, 40, replace=False):
        approx = coarse.seed_scores([seed], shortlist=100)[:, 0]
        full = exact.seed_scores([seed])[:, 0]
        assert np.array_equal(coarse.top(approx, 40), exact.top(full, 40))  # the ranking...
        best = exact.top(full, 40)
        assert np.allclose(approx[best], full[best], atol=1e-5)  # ...and its scores
        assert np.abs(approx - full).max() > 1e-3  # the other rows are only estimated
        # Rows another signal may lift (co-listening) are scored exactly when asked.
        lifted = exact.top(full, 3000)[2500:]
        assert np.abs(approx[lifted] - full[lifted]).max() > 1e-3
        asked = coarse.seed_scores([seed], shortlist=100, exact=lifted)[:, 0]
        assert np.allclose(asked[lifted], full[lifted], atol=1e-5)
    assert np.array_equal(coarse.seed_scores([3])[:, 0], exact.seed_scores([3])[:, 0])


def test_play_similar_on_the_coarse_index_gives_the_exact_lists(db_path: Path) -> None:
    # A library past coarse_min_rows, with tags: one seed is ranked on the coarse index,
    # several (a radio steered by its plays) exactly; either way the lists are the exact
    # search's.
    conn = connect(db_path)
    vecs, labels = clustered_vectors(100, 100, seed=2, spread=0.6)  # past what a shortlist covers
    ids = add_tracks(conn, [{"title": f"t{i}", "artist": f"Artist {i % 600}", "album": f"Album {i % 1500}",
                             "genres": [f"g{labels[i] % 7}"], "year": 1960 + i % 50}
                            for i in range(labels.size)])
    add_features(conn, dict(zip(ids, vecs, strict=True)))
    coarse = _engine(conn, coarse_dims=4, coarse_min_rows=1000)
    exact = _engine(conn, coarse_min_rows=10**9)
    assert coarse.snapshot().sim.coarse_ is not None and exact.snapshot().sim.coarse_ is None
    for seeds in [[ids[7]], [ids[500]], [ids[1234]], [ids[3], ids[900], ids[5000]], ids[20:90:7]]:
        got, want = coarse.similar(seeds, 10), exact.similar(seeds, 10)
        assert [(p.track_id, p.why) for p in got] == [(p.track_id, p.why) for p in want]
        assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-5)
    # Co-listening lifts tracks that sound nothing like the seed into its list: their
    # sound is scored exactly too.
    # A track co-listened with the seed, 1,300th on sound alone, lifted into its list.
    sim = exact.snapshot().sim
    ranked = sim.top(sim.seed_scores(sim.rows_of([int(ids[7])]))[:, 0], 1301)
    far = TrackId(int(sim.track_ids_[ranked[1300]]))
    plays(conn, [(t, 1_000_000.0 + 3000 * s + 250 * k, False)
                 for s in range(20) for k, t in enumerate([ids[7], far])])
    got, want = coarse.similar([ids[7]], 60), exact.similar([ids[7]], 60)
    assert far in {p.track_id for p in got}  # co-listening lifted it into the list
    assert [(p.track_id, p.why) for p in got] == [(p.track_id, p.why) for p in want]
    assert np.allclose([p.score for p in got], [p.score for p in want], atol=1e-5)
    # The coarse estimate alone ranks otherwise: the exact rescoring makes them equal.
    sim = coarse.snapshot().sim
    approx = sim.seed_scores(sim.rows_of([int(ids[7])]))[:, 0]
    rough = sim._seed_scores(sim.rows_of([int(ids[7])]), np.array([True]), sim.coarse_)[:, 0]
    assert not np.array_equal(sim.top(approx, 10), sim.top(rough, 10))


def test_no_group_drowns_the_others() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, (81, DIM)).astype(np.float32)
    timbre, rhythm = list(GROUPS["timbre"]), list(GROUPS["rhythm"])
    base[1:41, :][:, timbre] = base[0, timbre]  # 40 tracks share the 4-column timbre block
    for i in range(1, 41):
        base[i, timbre] = base[0, timbre]
        base[i + 40, rhythm] = base[0, rhythm]  # 40 share the 2-column rhythm block
    fm = FeatureMatrix(1, np.arange(1, 82, dtype=np.int64), base, np.full((81, 8), np.nan, np.float32))
    s = ContentSimilarity(groups=GROUPS, group_weights={g: 1.0 for g in GROUPS}).fit([], fm).seed_scores([0])[:, 0]
    # Equal weights: sharing either group is worth the same, whatever its width
    # (a plain cosine would give about 4/9 against 2/9).
    assert abs(float(s[1:41].mean()) - float(s[41:81].mean())) < 0.08


def test_never_the_seed_nor_its_duplicates_and_albums_capped(db_path: Path) -> None:
    conn = connect(db_path)
    rng = np.random.default_rng(5)
    centre = rng.normal(0, 1, DIM)
    specs = [{"title": "Blue in Green", "artist": "Miles", "album": "Kind", "genres": ["jazz"],
              "path": "/m/seed.flac"},
             {"title": "Blue in Green (Remastered 2009)", "artist": "miles", "album": "Best of",
              "genres": ["jazz"], "path": "/m/remaster.flac"},
             {"title": "A copy", "artist": "Unknown", "genres": ["jazz"], "path": "/m/copy.mp3"}]
    specs += [{"title": f"Kind track {i}", "artist": "Miles", "album": "Kind", "genres": ["jazz"],
               "path": f"/m/kind{i}.flac"} for i in range(6)]
    specs += [{"title": f"Other {i}", "artist": f"Artist {i % 4}", "album": f"Album {i}",
               "genres": ["jazz"], "path": f"/m/other{i}.flac"} for i in range(12)]
    ids = add_tracks(conn, specs)
    vecs = {tid: centre + rng.normal(0, 0.3, DIM) for tid in ids}
    vecs[ids[2]] = vecs[ids[0]] + 1e-4  # the same recording, another file
    vecs[ids[1]] = centre + rng.normal(0, 0.3, DIM)
    add_features(conn, vecs)
    picks = _engine(conn).similar([ids[0]], 12)
    got = [p.track_id for p in picks]
    assert ids[0] not in got and ids[1] not in got and ids[2] not in got
    assert len(got) == len(set(got)) == 12
    assert sum(t in ids[3:9] for t in got) <= 2  # at most a few from the seed's album
    artists = [_engine(conn).track(t).artist for t in got]  # type: ignore[union-attr]
    assert all(artists[i] != artists[i + 1] for i in range(len(artists) - 1))


def test_spacing_artists_never_puts_a_filler_before_a_real_match(db_path: Path) -> None:
    # A small library: two tracks by the seed's artist sound like it, nothing else does.
    # They lead, side by side, rather than behind tracks that only fill the list.
    conn = connect(db_path)
    rng = np.random.default_rng(8)
    near = rng.normal(0, 1, DIM)
    specs = [{"title": f"Neon {i}", "artist": "Night Circuit", "album": f"Single {i}",
              "genres": ["electronic"], "path": f"/m/neon{i}.flac"} for i in range(3)]
    specs += [{"title": f"Far {i}", "artist": f"Band {i % 4}", "album": f"Album {i}",
               "genres": [["jazz", "folk", "ambient", "rock"][i % 4]], "path": f"/m/far{i}.flac"}
              for i in range(12)]
    ids = add_tracks(conn, specs)
    vecs = {t: near + rng.normal(0, 0.2, DIM) for t in ids[:3]}
    vecs |= {t: rng.normal(0, 1, DIM) for t in ids[3:]}
    add_features(conn, vecs)
    picks = _engine(conn).similar([ids[0]], 8)
    assert [p.track_id for p in picks[:2]] == [ids[1], ids[2]] or \
        [p.track_id for p in picks[:2]] == [ids[2], ids[1]]
    assert all(p.score < 0.3 * picks[1].score for p in picks[2:])  # the rest only fill...
    assert all(p.why.startswith("similar ") for p in picks[:2])
    assert all(p.why.startswith("a looser match for “Neon 0”") for p in picks[2:])  # ...and say so
    artists = [_engine(conn).track(p.track_id).artist for p in picks[2:]]  # type: ignore[union-attr]
    assert all(a != b for a, b in itertools.pairwise(artists))  # and are spaced


def test_two_copies_of_one_recording_are_never_both_picked(db_path: Path) -> None:
    conn = connect(db_path)
    rng = np.random.default_rng(8)
    centre = rng.normal(0, 1, DIM)
    ids = add_tracks(conn, [{"title": f"Song {i}", "artist": f"Artist {i}", "genres": ["jazz"],
                             "path": f"/m/{i}.flac"} for i in range(16)])
    vecs = {tid: centre + rng.normal(0, 0.3, DIM) for tid in ids}
    # Tracks 1 and 2: one recording in two files under different titles and artists (no
    # tag gives them away), and the closest to the seed: both would lead the list.
    vecs[ids[1]] = vecs[ids[0]] + rng.normal(0, 0.12, DIM)
    vecs[ids[2]] = vecs[ids[1]] + 1e-4
    add_features(conn, vecs)
    got = [p.track_id for p in _engine(conn).similar([ids[0]], 10)]
    assert len(got) == 10 and (ids[1] in got) != (ids[2] in got)


def test_reasons_name_what_the_tracks_really_share(db_path: Path) -> None:
    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=8)
    picks = _engine(conn).similar([ids[0]], 3)
    for p in picks:
        assert "\u201cjazz song 0\u201d" in p.why  # names the seed
    # Same style: same tempo and key were stored, so those are real evidence here.
    assert any("tempo" in p.why or "key" in p.why or "timbre" in p.why for p in picks)


def test_normalised_titles_match_versions() -> None:
    assert normalise_text("Blue in Green (Remastered 2009)") == normalise_text("blue in green")
    assert normalise_text("Café - Live") == normalise_text("cafe")
    assert normalise_text("Other song") != normalise_text("Another song")


def test_an_upgrade_in_progress_compares_every_track_on_the_columns_both_versions_share(
        db_path: Path) -> None:
    # Half the library is analysed again at the new version; the other half still has the
    # older vectors, which are the new layout's first columns. Both halves keep their sound.
    from recommender.features import COMPATIBLE_PREFIXES, FEATURE_NAMES

    (old, width), = COMPATIBLE_PREFIXES.items()
    conn = connect(db_path)
    rng = np.random.default_rng(5)
    dim = len(FEATURE_NAMES)
    centres = rng.normal(0, 1, (2, dim))
    # Untagged: only their sound can place them.
    ids = add_tracks(conn, [{"title": f"file {i}", "path": f"/m/{i}.flac"} for i in range(24)])
    vecs = {t: centres[i % 2] + rng.normal(0, 0.3, dim) for i, t in enumerate(ids)}
    redone, waiting = ids[:12], ids[12:]
    # Just upgraded: nothing redone yet, every track has only its older vector.
    add_features(conn, {t: vecs[t][:width] for t in ids}, version=old)
    engine = Engine(SqliteLibrarySource(conn))
    assert all(ids.index(p.track_id) % 2 == 0 for p in engine.similar([ids[0]], 6))
    add_features(conn, {t: vecs[t] for t in redone}, analyzed_at=1.0)
    for seed in (redone[0], waiting[1]):
        picks = [p.track_id for p in engine.similar([seed], 6)]
        assert len(picks) == 6
        assert all(ids.index(t) % 2 == ids.index(seed) % 2 for t in picks)  # its own sound
        assert set(picks) & set(redone) and set(picks) & set(waiting)  # from both halves
    assert "structure" not in engine.snapshot().sim.group_names_  # the shared columns only
    # Once every track is redone, all the new version's columns count.
    add_features(conn, {t: vecs[t] for t in waiting}, analyzed_at=2.0)  # as the job writes
    snap = engine.snapshot()
    assert "structure" in snap.sim.group_names_ and len(snap.features) == 24


def test_a_seed_with_neither_sound_nor_tags_gets_nothing_made_up(db_path: Path) -> None:
    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=6)
    # A file whose analysis failed and that carries no tags: nothing says what it is like.
    blank, heard_with = add_tracks(conn, [{"title": "hush", "path": "/m/hush.flac"},
                                          {"title": "x", "path": "/m/x.flac"}])
    engine = _engine(conn)
    assert engine.similar([blank], 10) == []  # not ten tracks at "-1" as "looser matches"
    # Beside a seed that has a sound, it does not drag the blend down: the same picks.
    alone = [(p.track_id, round(p.score, 4)) for p in engine.similar([ids[0]], 6)]
    both = [(p.track_id, round(p.score, 4)) for p in engine.similar([blank, ids[0]], 6)]
    assert both == alone
    # Co-listening still speaks for it: what was played around it is offered.
    plays(conn, [(blank, 1000.0 + 600 * k, False) for k in range(4)]
          + [(heard_with, 1200.0 + 600 * k, False) for k in range(4)])
    picks = _engine(conn).similar([blank], 10)
    assert [p.track_id for p in picks] == [heard_with]


def test_cli_says_why_a_blank_track_has_no_similar_tracks(db_path: Path,
                                                          capsys) -> None:  # type: ignore[no-untyped-def]
    from player.features_store import write_batch
    from ui.cli import run

    conn = connect(db_path)
    standard_library(conn, per_style=4)
    blank = add_tracks(conn, [{"title": "hush", "path": "/m/hush.flac"}])[0]
    write_batch(conn, FEATURES_VERSION, [], [(blank, "the analysed excerpt is silent")])
    assert run(["similar", str(blank), "--db", str(db_path)]) == 0
    assert capsys.readouterr().out == (
        "Nothing to go on: the track has no artist, genre, composer or year, and its sound "
        "could not be analysed (the analysed excerpt is silent).\n")


def test_a_file_the_analysis_could_not_use_is_never_recommended(db_path: Path) -> None:
    from player.features_store import write_batch

    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=6)
    # A truncated jazz file: its tags read, its audio does not decode.
    broken = add_tracks(conn, [{"title": "truncated", "artist": "Jazz Artist 1",
                                "genres": ["Jazz"], "path": "/m/broken.mp3"}])[0]
    engine = _engine(conn)
    jazz = [t for t, s in zip(ids, labels, strict=True) if s == 0]
    assert broken in {p.track_id for p in engine.similar([jazz[1]], 10)}  # before: offered
    write_batch(conn, FEATURES_VERSION, [], [(broken, "no audio could be decoded")])
    assert broken not in {p.track_id for p in engine.similar([jazz[1]], 10)}
    assert broken not in {p.track_id for p in engine.for_you(20, likes=["genre:jazz"])}
    # It can still be asked for: Play similar on it goes by its tags.
    assert {p.track_id for p in engine.similar([broken], 4)} <= set(jazz)
