"""Sorting the song table in a real window: the order is computed in a worker and swapped
in, the selection follows its tracks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from player.history import record_play
from player.models import Play, TrackId
from player.scanner import scan
from tests.media import make_track, tone
from tests.window_helpers import quiet_window
from ui.main_window import MainWindow
from ui.models import TrackTableModel

WAIT_MS = 20_000
# (title, artist, plays): mixed case, so a sort that is not case-blind shows
TRACKS = (("banana", "Zed", 0), ("Apple", "Yan", 3), ("cherry", "Xu", 1),
          ("Date", "Wes", 0), ("elderberry", "Val", 5), ("Fig", "Uma", 2))


@pytest.fixture
def window(qtbot, db_path: Path, tmp_path: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    music = tmp_path / "music"
    for n, (title, artist, _plays) in enumerate(TRACKS):
        make_track(music / f"{n}.flac", tone(200 + 50 * n, 0.4), title=title, artist=artist)
    assert scan([music], db_path).added == len(TRACKS)
    w = quiet_window(qtbot, db_path, tmp_path)
    yield w
    w.close()


def _titles(model: TrackTableModel) -> list[str]:
    return [r.title for r in (model.row_of(n) for n in range(model.rowCount())) if r]


def _sort(qtbot, w: MainWindow, key: str, order: Qt.SortOrder) -> None:  # type: ignore[no-untyped-def]
    table = w.songs.table
    model = table.track_model()
    before = model.track_ids()
    with qtbot.waitSignal(model.layoutChanged, timeout=WAIT_MS):
        table.sortByColumn(model.column_of(key), order)
        # Nothing moved yet: the new order is being computed in a worker.
        assert model.track_ids() == before


def test_sorting_by_a_column_orders_the_library_off_the_gui_thread(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    ids = {}
    w.show_view("songs")
    model = w.songs.table.track_model()
    qtbot.waitUntil(lambda: model.rowCount() == len(TRACKS), timeout=WAIT_MS)
    for n in range(model.rowCount()):
        ids[model.row_of(n).title] = model.track_id(n)
    # The default order is by artist.
    assert _titles(model) == [t for t, _a, _p in sorted(TRACKS, key=lambda x: x[1])]
    now = time.time()
    for title, _artist, plays in TRACKS:
        for k in range(plays):
            record_play(w.conn, Play(track_id=TrackId(ids[title]), started_at=now + k))

    # Select "cherry" and make it current: they stay on it through every sort.
    table = w.songs.table
    row = _titles(model).index("cherry")
    table.selectionModel().setCurrentIndex(
        model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)

    _sort(qtbot, w, "title", Qt.SortOrder.AscendingOrder)
    assert _titles(model) == sorted((t for t, _a, _p in TRACKS), key=str.casefold)
    assert table.selected_ids() == [ids["cherry"]]
    assert model.track_id(table.currentIndex().row()) == ids["cherry"]

    _sort(qtbot, w, "title", Qt.SortOrder.DescendingOrder)
    assert _titles(model) == sorted((t for t, _a, _p in TRACKS), key=str.casefold,
                                    reverse=True)
    assert table.selected_ids() == [ids["cherry"]]

    _sort(qtbot, w, "play_count", Qt.SortOrder.DescendingOrder)
    by_plays = [t for t, _a, _p in sorted(TRACKS, key=lambda x: -x[2])]
    assert _titles(model)[:4] == by_plays[:4]  # the rest tie at 0 plays
    assert model.data(model.index(0, model.column_of("play_count"))) == "5"
    assert table.selected_ids() == [ids["cherry"]]


def test_a_newer_sort_wins_over_one_still_running(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.show_view("songs")
    table = w.songs.table
    model = table.track_model()
    qtbot.waitUntil(lambda: model.rowCount() == len(TRACKS), timeout=WAIT_MS)
    table.sortByColumn(model.column_of("title"), Qt.SortOrder.AscendingOrder)
    table.sortByColumn(model.column_of("title"), Qt.SortOrder.DescendingOrder)
    expected = sorted((t for t, _a, _p in TRACKS), key=str.casefold, reverse=True)
    qtbot.waitUntil(lambda: _titles(model) == expected, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not w.queries.busy(), timeout=WAIT_MS)
    assert _titles(model) == expected


def test_a_folder_in_its_own_order_shows_no_sort_column(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    # The folder page lists paths in order: no header arrow may claim another order,
    # until the user clicks one; showing the folder again is its own order again.
    w = window
    root_id = w.conn.execute("SELECT id FROM roots").fetchone()[0]
    w.show_view(f"root:{root_id}")
    table = w.root_page.table
    model = table.track_model()
    header = table.horizontalHeader()
    in_path_order = [title for title, _artist, _plays in TRACKS]
    assert _titles(model) == in_path_order
    assert header.sortIndicatorSection() == -1
    with qtbot.waitSignal(model.layoutChanged, timeout=WAIT_MS):
        table.sortByColumn(model.column_of("title"), Qt.SortOrder.AscendingOrder)
    assert _titles(model) == sorted(in_path_order, key=str.lower)
    assert header.sortIndicatorSection() == model.column_of("title")
    w.show_view("songs")
    w.show_view(f"root:{root_id}")
    assert _titles(model) == in_path_order
    assert header.sortIndicatorSection() == -1
