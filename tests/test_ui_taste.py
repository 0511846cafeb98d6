"""The window keeps the taste model learning: a background job trains it on the history and
hands it to the recommendation engine, with no `timbre model train` needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from player.db import connect
from player.history import record_plays
from recommender.taste import model_path_for
from tests.reco_helpers import store_simulated
from tests.taste_sim import make_library, simulate_plays
from ui.app import make_collaborators, make_settings
from ui.main_window import MainWindow

pytestmark = [pytest.mark.no_qt_log, pytest.mark.slow]


def test_window_learns_taste_in_the_background(qtbot, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lib = make_library(200, seed=5)
    conn = connect(db_path)
    history = sorted(simulate_plays(lib, 900, seed=6, pool=sorted(lib.tracks)[:150]),
                     key=lambda p: p.started_at)
    record_plays(conn, store_simulated(conn, lib, history)[1])

    collab = make_collaborators(db_path, make_settings(tmp_path / "window.ini"),
                                with_playback=False)
    window = MainWindow(collab)
    qtbot.addWidget(window)
    engine = window.recs.engine()  # built before any model exists: For you goes without
    assert engine.taste is None
    with qtbot.waitSignal(window.jobs.taste_learned, timeout=120_000) as learned:
        window.jobs.learn_taste()
    model, done = learned.args[0]
    assert done == "trained"
    assert model_path_for(db_path).exists()  # saved beside the library for next time
    qtbot.waitUntil(lambda: engine.taste is model, timeout=5_000)
