"""The window's item models: QAbstractItemModelTester, lazy pages, sorting on SQL keys."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QIcon
from PySide6.QtTest import QAbstractItemModelTester

from player import browse
from player.browse import TrackFilter
from player.db import connect, transaction
from player.history import record_play
from player.models import Play, TrackId
from ui.browse_models import AlbumListModel, HistoryModel, NameListModel
from ui.models import SORT_ROLE, TRACK_ID_ROLE, TrackTableModel, format_when
from ui.queue_model import QueueModel

WARN = QAbstractItemModelTester.FailureReportingMode.Warning
ARTISTS = ("Zed", "alpha", "Mid", "<b>Bold</b>")
GENRES = ("Rock", "Jazz", "Folk")


def add_tracks(conn: sqlite3.Connection, n: int) -> list[TrackId]:
    """Insert n tracks with varied tags straight into a real library database."""
    now = time.time()
    rows = []
    for i in range(n):
        artist = ARTISTS[i % len(ARTISTS)]
        genre = GENRES[i % len(GENRES)]
        rows.append((
            f"/music/{i}.flac", f"/music/{i}.flac".encode(), 1000 + i, i, f"Song {i:05d}",
            artist, json.dumps([artist]), f"Album {i % 7}", artist, i % 12 + 1, genre,
            json.dumps([genre]), 1990 + i % 30, 60.0 + i % 300, now - i, now,
        ))
    with transaction(conn):
        conn.executemany(
            """INSERT INTO tracks (path, path_bytes, size, mtime_ns, title, artist, artists,
                   album, albumartist, tracknumber, genre, genres, year, duration_s, added_at,
                   updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            rows,
        )
    return [TrackId(r[0]) for r in conn.execute("SELECT id FROM tracks ORDER BY id")]


@pytest.fixture(autouse=True)
def _no_tester_failures(qtlog):
    """Fail a test when a QAbstractItemModelTester reported a broken model contract."""
    yield
    failures = [r.message for r in qtlog.records if "FAIL!" in r.message]
    assert not failures, failures


@pytest.fixture
def conn(db_path: Path) -> sqlite3.Connection:
    return connect(db_path)


def test_track_model_passes_the_model_tester(qtbot, conn: sqlite3.Connection) -> None:
    add_tracks(conn, 450)
    model = TrackTableModel(conn)
    tester = QAbstractItemModelTester(model, WARN)
    model.set_filter(TrackFilter())
    assert model.rowCount() == 450
    for column in range(model.columnCount()):
        model.sort(column, Qt.SortOrder.DescendingOrder)
    model.set_filter(TrackFilter(genre="jazz"))
    model.refresh()
    model.set_ids([TrackId(3), TrackId(1), TrackId(3)], reasons={TrackId(1): "because"})
    model.sort(0)
    del tester


def test_rows_are_fetched_by_page_and_the_cache_is_bounded(conn: sqlite3.Connection) -> None:
    add_tracks(conn, 2000)
    model = TrackTableModel(conn)
    model.PAGE_ROWS, model.MAX_PAGES = 50, 4
    model.set_filter(TrackFilter())
    assert model.cached_pages() == 0  # nothing is read until a row is shown
    for row in range(0, 2000, 50):
        assert model.data(model.index(row, 0)) != ""
    assert model.cached_pages() == 4


def test_sorting_uses_sql_keys_and_keeps_ids_in_track_id_role(conn: sqlite3.Connection) -> None:
    add_tracks(conn, 300)
    record_play(conn, Play(track_id=TrackId(7), started_at=time.time()))
    record_play(conn, Play(track_id=TrackId(7), started_at=time.time() + 1))
    record_play(conn, Play(track_id=TrackId(9), started_at=time.time() + 2))
    model = TrackTableModel(conn)
    model.set_filter(TrackFilter())
    plays = model.column_of("play_count")
    model.sort(plays, Qt.SortOrder.DescendingOrder)
    top = [model.data(model.index(r, 0), TRACK_ID_ROLE) for r in range(3)]
    assert top[:2] == [7, 9]
    assert model.data(model.index(0, plays), SORT_ROLE) == 2
    title = model.column_of("title")
    model.sort(title, Qt.SortOrder.AscendingOrder)
    titles = [model.data(model.index(r, title), SORT_ROLE) for r in range(model.rowCount())]
    assert titles == sorted(titles, key=str.casefold)


def test_filters_by_artist_genre_album_and_ids(conn: sqlite3.Connection) -> None:
    add_tracks(conn, 120)
    model = TrackTableModel(conn)
    model.set_filter(TrackFilter(artist="ALPHA"))  # case-insensitive
    artist = model.column_of("artist")
    assert model.rowCount() == 30
    assert {model.data(model.index(r, artist)) for r in range(30)} == {"alpha"}
    model.set_filter(TrackFilter(genre="Folk"))
    assert model.rowCount() == 40
    ids = browse.search_ids(conn, "song 0001")
    assert ids and all(browse.row(conn, i).title.startswith("Song 0001") for i in ids)


def test_html_in_tags_is_returned_as_the_literal_text(conn: sqlite3.Connection) -> None:
    add_tracks(conn, 4)
    model = TrackTableModel(conn)
    model.set_filter(TrackFilter(artist="<b>Bold</b>"))
    cell = model.index(0, model.column_of("artist"))
    assert model.data(cell) == "<b>Bold</b>"
    # a tooltip is escaped so that Qt's rich-text guess shows the tags as typed
    assert "&lt;b&gt;" in model.data(cell, Qt.ItemDataRole.ToolTipRole)


def test_queue_model_drop_asks_the_queue_to_move(qtbot, conn: sqlite3.Connection) -> None:
    ids = add_tracks(conn, 5)
    model = QueueModel(conn)
    tester = QAbstractItemModelTester(model, WARN)  # noqa: F841
    model.set_ids(ids)
    data = model.mimeData([model.index(0, 0), model.index(1, 0)])
    with qtbot.waitSignal(model.move_requested) as blocker:
        model.dropMimeData(data, Qt.DropAction.MoveAction, 4, 0, QModelIndex())
    assert blocker.args == [[0, 1], 4]


def test_short_list_models_pass_the_tester(qtbot, conn: sqlite3.Connection) -> None:
    add_tracks(conn, 60)
    names = NameListModel()
    t1 = QAbstractItemModelTester(names, WARN)  # noqa: F841
    names.set_items(browse.artists(conn))
    assert names.rowCount() == len(ARTISTS)
    albums = AlbumListModel(lambda a: QIcon())
    t2 = QAbstractItemModelTester(albums, WARN)  # noqa: F841
    albums.set_albums(browse.albums(conn))
    assert albums.rowCount() > 0
    record_play(conn, Play(track_id=TrackId(1), started_at=time.time()))
    history = HistoryModel()
    t3 = QAbstractItemModelTester(history, WARN)  # noqa: F841
    history.set_rows(browse.history(conn))
    assert history.rowCount() == 1
    assert history.data(history.index(0, 1)) == "Song 00000"


@pytest.mark.parametrize(("rows", "to_row"), [
    ([0], 5), ([4], 0), ([0, 1], 4), ([3, 4], 0), ([1, 3], 3), ([0, 2, 4], 2), ([2], 2),
    ([2], 3), ([1, 2], 6),
])
def test_drop_moves_put_the_dragged_rows_before_the_drop_row(rows: list[int],
                                                             to_row: int) -> None:
    from ui.queue_model import drop_moves

    items = list("abcdef")
    for src, dst in drop_moves(len(items), rows, to_row):
        items.insert(dst, items.pop(src))
    dragged = [c for i, c in enumerate("abcdef") if i in rows]
    rest = [c for i, c in enumerate("abcdef") if i not in rows]
    before = sum(1 for i in range(min(to_row, 6)) if i not in rows)
    assert items == rest[:before] + dragged + rest[before:]


def test_times_keep_the_hour_while_the_day_is_near() -> None:
    def at(day: int, hour: int, minute: int = 0) -> float:  # local time, 2026-11-<day>
        return time.mktime((2026, 11, day, hour, minute, 0, 0, 0, -1))
    now = at(28, 0, 30)  # just after midnight
    assert format_when(at(28, 0, 10), now) == "today 00:10"
    assert format_when(at(27, 23, 5), now) == "yesterday 23:05"  # 85 minutes ago
    assert format_when(at(27, 8, 0), now) == "yesterday 08:00"
    assert format_when(at(24, 9, 30), now) == time.strftime("%a 09:30", time.localtime(at(24, 9)))
    assert format_when(at(2, 12, 0), now) == "2026-11-02"
    assert format_when(None, now) == ""


def test_for_you_page_says_what_it_is_doing_while_it_has_no_picks(
        qtbot, conn: sqlite3.Connection, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    from recommender.picks import Pick
    from ui.views.foryou import ForYouPage

    page = ForYouPage(conn, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(page)
    # At start-up the engine is still being built: not "once your library is analysed".
    with qtbot.waitSignal(page.refresh_requested):
        page.request_refresh()
    assert page.empty.text() == "Finding music for you\u2026" and not page.empty.isHidden()
    page.set_picks([])
    assert page.empty.text().startswith("Nothing to recommend yet")
    tid = add_tracks(conn, 1)[0]
    page.set_picks([Pick(tid, 1.0, "you liked it", "favourite")])
    assert page.model.track_ids() == [tid] and page.status.text() == "1 pick"
    page.request_refresh()  # picks on show stay there while new ones are found
    assert page.model.track_ids() == [tid] and page.empty.text().startswith("Nothing")
