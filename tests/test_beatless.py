"""A track with no steady beat (a drone) has no tempo: not shown, not compared, not "fast".

Real files, scanned and analysed by the real jobs: the analysis always finds some
periodicity in the onsets, and for a drone it is a guess (the demo library's drones came
out at 47 to 177 BPM).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from player import browse
from player.db import connect
from player.features_store import descriptors
from player.library_source import SqliteLibrarySource
from player.models import DESCRIPTOR_NAMES, MIN_TEMPO_CONFIDENCE, TrackId
from player.scanner import scan
from recommender.analysis import analyze
from recommender.engine import Engine
from recommender.features import FEATURES_VERSION
from recommender.playlists_gen import MOODS, mood_scores
from tests.media import SR, chord, clicks, make_track

pytestmark = pytest.mark.slow


def drone(seconds: float, root_hz: float) -> np.ndarray:
    """A soft chord that swells and fades once over its length: no onsets to speak of."""
    t = np.arange(int(seconds * SR)) / SR
    swell = 0.6 + 0.4 * np.sin(np.pi * t / seconds)
    return (0.2 * chord([root_hz, root_hz * 1.5, root_hz * 2.0], seconds) * swell).astype(np.float32)


def beat(seconds: float, bpm: float) -> np.ndarray:
    harmony = chord([220.0, 277.2, 329.6], seconds)
    return (harmony + 0.6 * clicks(bpm, seconds)[: len(harmony)]).astype(np.float32)


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, dict[str, TrackId]]:
    root = tmp_path / "music"
    make_track(root / "drone.flac", drone(20, 110.0), title="Drone", artist="Deep")
    make_track(root / "tagged.flac", drone(24, 110.0), title="Tagged drone", artist="Deep",
               bpm="64")  # somebody typed its BPM
    make_track(root / "pulse.flac", beat(20, 120), title="Pulse", artist="Beat")
    db = tmp_path / "lib.db"
    scan([root], db, cancel=threading.Event())
    analyze(db, workers=1, cancel=threading.Event())
    conn = connect(db)
    ids = {title: TrackId(int(tid)) for tid, title in conn.execute("SELECT id, title FROM tracks")}
    conn.close()
    return db, ids


def test_a_drone_has_no_tempo_anywhere(library: tuple[Path, dict[str, TrackId]]) -> None:
    db, ids = library
    conn = connect(db)
    drone_desc = descriptors(conn, ids["Drone"])
    pulse_desc = descriptors(conn, ids["Pulse"])
    assert drone_desc is not None and pulse_desc is not None
    # The analysis still stores its guess and how unsure it is.
    assert drone_desc["tempo_bpm"] is not None
    assert drone_desc["tempo_confidence"] < MIN_TEMPO_CONFIDENCE  # type: ignore[operator]
    assert pulse_desc["tempo_confidence"] >= MIN_TEMPO_CONFIDENCE  # type: ignore[operator]

    # The Songs view: no BPM for the drone; the tag wins where there is one.
    shown = browse.rows(conn, [ids["Drone"], ids["Tagged drone"], ids["Pulse"]])
    assert shown[ids["Drone"]].bpm is None
    assert shown[ids["Tagged drone"]].bpm == 64
    assert shown[ids["Pulse"]].bpm == pytest.approx(120, abs=2)
    # Sorting by BPM puts the unknown last, as any other unknown value.
    order = browse.track_ids(conn, sort="bpm")
    assert order[-1] == ids["Drone"]

    # The engine's descriptors: the drone's tempo is unknown (NaN), the pulse's is kept.
    matrix = SqliteLibrarySource(conn).feature_matrix(FEATURES_VERSION)
    tempo = {int(t): float(d[DESCRIPTOR_NAMES.index("tempo_bpm")])
             for t, d in zip(matrix.ids, matrix.descriptors, strict=True)}
    assert np.isnan(tempo[ids["Drone"]]) and np.isnan(tempo[ids["Tagged drone"]])
    assert tempo[ids["Pulse"]] == pytest.approx(120, abs=2)

    # Moods hear a drone as slow: it scores (not NaN), calm above energetic and danceable.
    snap = Engine(SqliteLibrarySource(conn)).snapshot()
    row = int(snap.sim.rows_of([ids["Drone"]])[0])
    scores = {m: float(mood_scores(snap, m)[row]) for m in MOODS}
    assert all(np.isfinite(s) for s in scores.values())
    assert scores["calm"] > max(scores["energetic"], scores["danceable"])
    # Two drones share no "tempo" in the reasons.
    other = int(snap.sim.rows_of([ids["Tagged drone"]])[0])
    assert "tempo" not in snap.sim.shared_aspects(row, other, limit=5)


def test_properties_say_there_is_no_steady_beat(qtbot, library: tuple[Path, dict[str, TrackId]]  # type: ignore[no-untyped-def]
                                                ) -> None:
    from PySide6.QtWidgets import QTableWidget

    from ui.views.properties import PropertiesDialog

    db, ids = library
    conn = connect(db)

    def features_tab(tid: TrackId) -> dict[str, str]:
        detail = browse.track_detail(conn, tid)
        assert detail is not None
        dialog = PropertiesDialog(detail)
        qtbot.addWidget(dialog)
        tabs = dialog.tabs
        table = tabs.widget([tabs.tabText(i) for i in range(tabs.count())].index("Audio features"))
        assert isinstance(table, QTableWidget)
        return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}

    drone = features_tab(ids["Drone"])
    assert drone["tempo (BPM)"].startswith("no steady beat (a guess: ")
    assert "tempo confidence" in drone
    pulse = features_tab(ids["Pulse"])
    assert float(pulse["tempo (BPM)"]) == pytest.approx(120, abs=2)
