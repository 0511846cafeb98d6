"""The taste model learns a simulated listener's hidden preference, updates, retrains."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from player.models import END_FINISHED, END_SKIPPED, Play
from recommender.taste import Context, TasteData, TasteModel, play_label, train_or_update
from tests.taste_sim import SimLibrary, finish_probability, make_library, simulate_plays


@pytest.fixture(scope="module")
def lib() -> SimLibrary:
    """A synthetic library of 200 tracks in six styles."""
    return make_library(200, seed=3)


@pytest.fixture(scope="module")
def plays(lib: SimLibrary) -> list[Play]:
    """2,000 plays of the simulated listener, in time order."""
    return simulate_plays(lib, 2000, seed=4)


def _data(lib: SimLibrary, plays: list[Play]) -> TasteData:
    return TasteData(features=lib.features, tracks=lib.tracks, plays=plays)


def _auc_on(model: TasteModel, lib: SimLibrary, plays: list[Play]) -> float:
    data = _data(lib, plays)
    prevs = [None] + [p.track_id for p in plays[:-1]]
    scores = [model.score([p.track_id], data, Context(p.started_at, prev))[0]
              for p, prev in zip(plays, prevs, strict=True)]
    return float(roc_auc_score([p.end_reason == END_FINISHED for p in plays], scores))


def test_hidden_preference_is_learned(lib: SimLibrary, plays: list[Play]) -> None:
    model = TasteModel(lib.version, lib.names).fit(_data(lib, plays[:1400]))
    future = plays[1400:]
    auc = _auc_on(model, lib, future)
    assert auc > 0.65  # chance is 0.5
    check = model.check()
    assert check["counts"] and check["auc"] > check["baseline_auc"]
    # The evening preference shows in the scores: slow dark tracks beat fast bright ones.
    data = _data(lib, plays[:1400])
    evening = Context(time.mktime((2026, 3, 4, 21, 30, 0, 0, 0, -1)))
    by_darkness = sorted(lib.tracks, key=lambda t: lib.latent[t][0] + lib.latent[t][1])
    dark, bright = by_darkness[:20], by_darkness[-20:]
    assert model.score(dark, data, evening).mean() > model.score(bright, data, evening).mean() + 0.2
    # Scoring raw vectors (the For you hook) agrees with scoring by id.
    raw = model.score_vectors(np.array([lib.features[t] for t in dark]),
                              [lib.tracks[t] for t in dark], evening)
    assert np.allclose(raw, model.score(dark, data, evening))
    # The reasons follow the scores: the dark track it rates highest tonight is one you
    # finish, the bright one it rates lowest one you skip. (Not dark[0] itself: a single
    # track's score moves with the draw, only the groups' means are the known answer.)
    scores = dict(zip(dark + bright, model.score(dark + bright, data, evening), strict=True))
    liked, disliked = max(dark, key=scores.__getitem__), min(bright, key=scores.__getitem__)
    assert "finish" in model.reason(liked, data, evening)
    assert "skip" in model.reason(disliked, data, evening)


def test_incremental_update_moves_the_model(lib: SimLibrary, plays: list[Play]) -> None:
    model = TasteModel(lib.version, lib.names).fit(_data(lib, plays[:800]))
    before = [w.copy() for w in model.mlp_.coefs_]
    seen = model.n_plays_
    learned = model.update(_data(lib, plays[:1000]))  # only the 200 newer plays are new
    assert learned == 200
    assert model.n_plays_ == seen + 200
    assert any(not np.allclose(a, b) for a, b in zip(before, model.mlp_.coefs_, strict=True))
    assert model.update(_data(lib, plays[:1000])) == 0  # nothing new, nothing learned
    # The held-out check now includes the new plays, scored before they were learned.
    assert model.check()["n_holdout"] > 200


def test_feature_version_change_forces_retrain(
    lib: SimLibrary, plays: list[Play], tmp_path: Path
) -> None:
    path = tmp_path / "library.taste.joblib"
    data = _data(lib, plays[:600])
    _, done = train_or_update(data, path, features_version=1, feature_names=lib.names)
    assert done == "trained" and path.exists()
    more = _data(lib, plays[:700])
    model, done = train_or_update(more, path, features_version=1, feature_names=lib.names)
    # The plays after the last one learned; finished or skipped (partial plays teach nothing).
    through = max(p.started_at for p in plays[:600])
    labelled = sum(1 for p in plays[600:700] if p.started_at > through and p.track_id in more.features
                   and play_label(p, more.liked, more.banned) is not None)
    assert done == f"updated ({labelled} plays)" and labelled >= 90
    assert TasteModel.load(path, 1) is not None
    assert TasteModel.load(path, 2) is None  # another version is never used
    model, done = train_or_update(_data(lib, plays[:700]), path, features_version=2,
                                  feature_names=lib.names)
    assert done == "trained" and model.features_version == 2
    assert TasteModel.load(path, 2) is not None


def test_model_that_does_not_beat_the_baseline_does_not_count(lib: SimLibrary) -> None:
    # A listener who only cares about the artist: the per-artist finish rate knows it all.
    rng = np.random.default_rng(7)
    artists = sorted({t.artist for t in lib.tracks.values()})
    loves = {a: bool(i % 2) for i, a in enumerate(artists)}
    plays = []
    for i, p in enumerate(simulate_plays(lib, 1200, seed=8)):
        artist = lib.tracks[p.track_id].artist  # type: ignore[index]
        finish = rng.random() < (0.9 if loves[artist] else 0.1)
        plays.append(dataclasses.replace(
            p, end_reason=END_FINISHED if finish else END_SKIPPED, started_at=p.started_at + i))
    model = TasteModel(lib.version, lib.names).fit(_data(lib, plays))
    check = model.check()
    # the artist finish rate knows it all; the logistic regression on hashed artists may too
    assert check["baseline"] in ("artist finish rate", "logistic regression")
    assert not check["counts"]
    assert not model.counts_


def test_too_short_a_history_is_refused(lib: SimLibrary, plays: list[Play]) -> None:
    with pytest.raises(ValueError, match="at least"):
        TasteModel(lib.version, lib.names).fit(_data(lib, plays[:10]))


def test_model_file_writable_by_others_is_not_loaded(
    lib: SimLibrary, plays: list[Play], tmp_path: Path
) -> None:
    path = tmp_path / "library.taste.joblib"
    TasteModel(lib.version, lib.names).fit(_data(lib, plays[:300])).save(path)
    path.chmod(0o666)
    with pytest.raises(PermissionError):
        TasteModel.load(path, lib.version)


def test_simulated_listener_is_learnable(lib: SimLibrary, plays: list[Play]) -> None:
    # The oracle's AUC bounds what any model can reach on this listener.
    prevs = [None] + [p.track_id for p in plays[:-1]]
    truth = [finish_probability(lib, p.track_id, p.started_at, prev)  # type: ignore[arg-type]
             for p, prev in zip(plays, prevs, strict=True)]
    assert roc_auc_score([p.end_reason == END_FINISHED for p in plays], truth) > 0.75


def test_model_cli_trains_updates_and_reports(
    lib: SimLibrary, plays: list[Play], db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from player.db import connect
    from player.history import record_plays
    from recommender.taste import model_path_for
    from tests.reco_helpers import add_features, add_tracks
    from ui.cli import run

    conn = connect(db_path)
    order = sorted(lib.tracks)
    ids = add_tracks(conn, [{"title": lib.tracks[t].title, "artist": lib.tracks[t].artist,
                             "genres": lib.tracks[t].genres} for t in order])
    real = dict(zip(order, ids, strict=True))
    add_features(conn, {real[t]: lib.features[t] for t in order}, version=lib.version)
    record_plays(conn, [dataclasses.replace(p, track_id=real[p.track_id]) for p in plays[:900]])

    assert run(["model", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["trained"] is False and status["labelled_plays"] == 900
    assert run(["model", "status"]) == 0  # enough plays: it says how to train
    assert "Run `timbre model train`" in capsys.readouterr().out
    assert run(["model", "train", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["done"] == "trained" and trained["n_plays"] == 900
    assert {"auc", "baseline_auc", "counts"} <= trained.keys()
    assert model_path_for(db_path).exists()
    record_plays(conn, [dataclasses.replace(p, track_id=real[p.track_id])
                        for p in plays[900:1000]])
    assert run(["model", "train", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["done"] == "updated (100 plays)"
    assert run(["model", "status"]) == 0
    assert "Held-out check" in capsys.readouterr().out
