"""The sound space learned from genre tags: used when it helps, never when it cannot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from player.db import connect
from player.library_source import SqliteLibrarySource
from player.models import TrackId
from recommender.engine import Engine
from recommender.features import FEATURES_VERSION
from recommender.similarity import ContentSimilarity
from tests.reco_helpers import DIM, GROUPS, add_features, add_tracks
from ui.cli import run

GENRES = ("Jazz", "Metal", "Folk", "Techno")
PER_GENRE = 30


def _library(db_path: Path, genres_follow_sound: bool, tagged_share: float = 2 / 3,
             ) -> tuple[object, list[TrackId], dict[TrackId, str], set[TrackId]]:
    """Store 4 genres x 30 tracks whose genre shows only in the harmony dimensions (4, 5),
    under loud noise in all the others; some tracks carry no genre tag.

    Returns (connection, ids, each track's true genre, the untagged ids).
    """
    rng = np.random.default_rng(11)
    conn = connect(db_path)
    centres = rng.normal(0, 1.0, (len(GENRES), 2))
    specs, truth, vecs = [], [], []
    for g, genre in enumerate(GENRES):
        for i in range(PER_GENRE):
            vec = rng.normal(0, 3.0, DIM)  # the noise that drowns the genre
            vec[4:6] = centres[g] + rng.normal(0, 0.15, 2)
            shown = genre if genres_follow_sound else GENRES[int(rng.integers(len(GENRES)))]
            tagged = i < PER_GENRE * tagged_share
            specs.append({"title": f"{genre} {i}", "genres": [shown] if tagged else []})
            truth.append(genre)
            vecs.append(vec)
    ids = add_tracks(conn, specs)
    add_features(conn, dict(zip(ids, vecs, strict=True)))
    untagged = {tid for tid, spec in zip(ids, specs, strict=True) if not spec["genres"]}
    return conn, ids, dict(zip(ids, truth, strict=True)), untagged


def _engine(conn, learn_metric: bool) -> Engine:  # type: ignore[no-untyped-def]
    return Engine(SqliteLibrarySource(conn), features_version=FEATURES_VERSION,
                  similarity=ContentSimilarity(groups=GROUPS, learn_metric=learn_metric))


def _untagged_precision(engine: Engine, truth: dict[TrackId, str], untagged: set[TrackId]) -> float:
    """Share of same-genre tracks in Play similar (5 picks) of the untagged tracks."""
    hits = []
    for seed in sorted(untagged):
        picks = engine.similar([seed], 5)
        hits += [truth[p.track_id] == truth[seed] for p in picks]
    return float(np.mean(hits))


def test_genre_tags_teach_the_sound_of_untagged_tracks(db_path: Path) -> None:
    conn, _, truth, untagged = _library(db_path, genres_follow_sound=True)
    learned, plain = _engine(conn, True), _engine(conn, False)
    metric = learned.snapshot().sim.metric_
    assert metric is not None
    assert set(metric.genres) == {g.casefold() for g in GENRES}
    assert metric.precision_after > metric.precision_before  # the held-out check it passed
    with_metric = _untagged_precision(learned, truth, untagged)
    without = _untagged_precision(plain, truth, untagged)
    # half of each cosine is still the plain space, noise and all: a clear gain, not all
    assert with_metric >= without + 0.1, (with_metric, without)
    # the reasons still read the plain space's groups: the same words with or without it
    sim, plain_sim = learned.snapshot().sim, plain.snapshot().sim
    a, b = sim.rows_of(sorted(untagged)[:2])
    assert sim.group_similarity(a, b) == pytest.approx(plain_sim.group_similarity(a, b), abs=1e-4)


def test_genre_tags_that_do_not_follow_the_sound_are_not_used(db_path: Path) -> None:
    conn, _, _, _ = _library(db_path, genres_follow_sound=False)
    assert _engine(conn, True).snapshot().sim.metric_ is None


def test_too_few_tagged_tracks_teach_nothing(db_path: Path) -> None:
    conn, _, _, _ = _library(db_path, genres_follow_sound=True, tagged_share=0.2)  # 6 per genre
    engine = _engine(conn, True)
    assert engine.snapshot().sim.metric_ is None
    assert engine.similar([TrackId(1)], 5)  # and the plain space still answers


def test_model_status_says_whether_the_sound_space_is_learned(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _library(db_path, genres_follow_sound=True)
    assert run(["model", "status", "--json"]) == 0
    space = json.loads(capsys.readouterr().out)["sound_space"]
    assert space["learned"] and len(space["genres"]) == len(GENRES)
    assert space["heldout_precision_after"] > space["heldout_precision_before"]
    assert run(["model", "status"]) == 0
    said = capsys.readouterr().out
    assert "Sound space: learned from the genre tags" in said
    # No plays yet: training now would fail, so it is not what the status suggests.
    assert "not trained (0 finished" in said and "timbre model train" not in said


def test_duplicates_are_told_by_the_sound_not_the_learned_genre(db_path: Path) -> None:
    conn, ids, truth, _ = _library(db_path, genres_follow_sound=True)
    vector = conn.execute("SELECT vector FROM features WHERE track_id = ?", (ids[0],)).fetchone()[0]
    copy = add_tracks(conn, [{"title": "a re-encode", "genres": [], "path": "/music/copy.flac"}])[0]
    add_features(conn, {copy: np.frombuffer(vector, np.float32)})
    sim = _engine(conn, True).snapshot().sim
    assert sim.metric_ is not None
    a, b, c = sim.rows_of([ids[0], ids[1], copy])
    assert truth[ids[0]] == truth[ids[1]]
    # close in the learned directions (same genre), not the same recording
    assert not sim.is_duplicate(a, b)
    assert sim.is_duplicate(a, c)
