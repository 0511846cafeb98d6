"""Removing a music folder: from the window (a real scan, a real offscreen window) and the
CLI. Its tracks leave the views, search and recommendations; the history stays."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from player import browse, feedback
from player.db import connect
from player.history import iter_plays, record_play
from player.library import list_roots, remove_root
from player.library_source import SqliteLibrarySource
from player.models import Play, TrackId
from player.scanner import scan
from tests.media import make_track, tone
from tests.window_helpers import quiet_window
from ui.cli import run as cli_main
from ui.main_window import MainWindow

WAIT_MS = 20_000


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """Two music folders: 'keep' with three tracks, 'drop' with two in a subfolder."""
    keep, drop = tmp_path / "keep", tmp_path / "drop"
    for n in range(3):
        make_track(keep / f"k{n}.flac", tone(220 + 40 * n, 0.5), title=f"Keeper {n}",
                   artist="Kay")
    for n in range(2):
        make_track(drop / "sub" / f"d{n}.ogg", tone(500 + 40 * n, 0.5), title=f"Dropped {n}",
                   artist="Dee")
    return keep, drop


def _ids_by_title(db_path: Path) -> dict[str, TrackId]:
    conn = connect(db_path)
    try:
        return {r.title: r.id for r in browse.rows(
            conn, browse.track_ids(conn, browse.TrackFilter(include_missing=True))).values()}
    finally:
        conn.close()


def _root_id(conn: object, path: Path) -> int:
    return next(r.id for r in list_roots(conn) if r.path == str(path))  # type: ignore[arg-type]


@pytest.fixture
def window(qtbot, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
           folders: tuple[Path, Path]) -> Iterator[MainWindow]:
    assert scan(list(folders), db_path).added == 5
    w = quiet_window(qtbot, db_path, tmp_path)
    yield w
    w.close()


def _click_remove_when_asked(qtbot) -> list[str]:  # type: ignore[no-untyped-def]
    """Answer the confirmation box with Remove as soon as it shows; return its text."""
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        next(b for b in box.buttons() if b.text() == "Remove").click()

    QTimer.singleShot(0, answer)
    return seen


def test_removing_a_folder_in_the_window_keeps_the_history(
        qtbot, window: MainWindow, db_path: Path,  # type: ignore[no-untyped-def]
        folders: tuple[Path, Path]) -> None:
    w = window
    keep, drop = folders
    ids = _ids_by_title(db_path)
    dropped = {ids["Dropped 0"], ids["Dropped 1"]}
    now = time.time()
    for n, tid in enumerate([ids["Dropped 0"], ids["Keeper 0"], ids["Dropped 0"]]):
        record_play(w.conn, Play(track_id=tid, started_at=now - 300 + n * 60, heard_ms=500,
                                 fraction=1.0, title="x", artist="y"))
    feedback.like(w.conn, ids["Dropped 1"])
    plays_before = [(p.track_id, p.started_at) for p in iter_plays(w.conn)]
    # The folder watcher has taken both folders once the start-up check is done.
    qtbot.waitUntil(lambda: {str(drop / "sub"), str(keep)} <= set(w.jobs.watcher.directories()),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not w.jobs.is_busy(), timeout=WAIT_MS)
    w.show_view("songs")
    model = w.songs.table.track_model()
    qtbot.waitUntil(lambda: model.rowCount() == 5, timeout=WAIT_MS)

    # Open the folder's page, then remove it with its own menu action, confirming.
    root = _root_id(w.conn, drop)
    w.sidebar.select(f"root:{root}")
    assert w.current_view() == "root" and w.root_page.table.model().rowCount() == 2
    menu = w.sidebar.folder_menu(f"root:{root}")
    assert menu is not None
    action = next(a for a in menu.actions() if a.objectName() == "remove_folder")
    asked = _click_remove_when_asked(qtbot)
    with qtbot.waitSignal(w.jobs.folder_removed, timeout=WAIT_MS) as removed:
        action.trigger()
    assert asked and str(drop) in asked[0]
    assert removed.args == [root, 2]

    # Gone from the views: the folder list, songs (the window went back to them), search.
    assert f"root:{root}" not in w.sidebar._items
    assert w.current_view() == "songs"
    qtbot.waitUntil(lambda: model.rowCount() == 3, timeout=WAIT_MS)
    assert {model.row_of(r).title for r in range(3)} == {"Keeper 0", "Keeper 1", "Keeper 2"}
    w.search_box.setText("Dropped")
    w.run_search()
    assert w.search_page.table.model().rowCount() == 0
    w.search_box.setText("Keeper")
    w.run_search()
    assert w.search_page.table.model().rowCount() == 3
    # ... from what the recommender reads, and from the watcher.
    assert not dropped & {t.id for t in SqliteLibrarySource(w.conn).tracks()}
    watched = w.jobs.watcher.directories()
    assert str(keep) in watched
    assert not [d for d in watched if d.startswith(str(drop))]

    # The history is intact: every play, still pointing at its track; the like stays.
    assert [(p.track_id, p.started_at) for p in iter_plays(w.conn)] == plays_before
    w.show_view("history")
    assert w.history.model.rowCount() == 3
    assert browse.is_liked(w.conn, ids["Dropped 1"])
    assert list(drop.rglob("*.ogg"))  # the files are not touched

    # A later rescan leaves the removed folder alone.
    with qtbot.waitSignal(w.jobs.finished_all, timeout=WAIT_MS):
        w.jobs.rescan()
    assert browse.track_count(w.conn) == 3


def test_removing_a_folder_while_a_scan_runs(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                             folders: tuple[Path, Path]) -> None:
    w = window
    keep, drop = folders
    qtbot.waitUntil(lambda: not w.jobs.is_busy(), timeout=WAIT_MS)
    make_track(drop / "new.flac", tone(700, 0.5), title="Dropped 2")  # for the scan to do
    root = _root_id(w.conn, drop)
    errors: list[str] = []
    w.jobs.message.connect(errors.append)
    w.jobs.rescan()
    w.remove_folder(root)
    w.remove_folder(root)  # a second click before the first one ran does nothing more
    with qtbot.waitSignal(w.jobs.finished_all, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: not w.jobs.is_busy(), timeout=WAIT_MS)
    assert not [e for e in errors if "failed" in e], errors
    assert [r.path for r in list_roots(w.conn)] == [str(keep)]
    assert browse.track_count(w.conn) == 3
    assert browse.search_ids(w.conn, "dropped") == []


def test_the_engine_stops_recommending_a_removed_folder(db_path: Path,
                                                       folders: tuple[Path, Path]) -> None:
    from recommender.cli_engine import build_engine
    from recommender.features import FEATURE_NAMES
    from tests.reco_helpers import add_features

    keep, drop = folders
    scan(list(folders), db_path)
    ids = _ids_by_title(db_path)
    rng = np.random.default_rng(0)
    conn = connect(db_path)
    add_features(conn, {t: rng.normal(size=len(FEATURE_NAMES)) for t in ids.values()})
    engine = build_engine(conn, db_path)
    dropped = {ids["Dropped 0"], ids["Dropped 1"]}
    assert dropped <= {p.track_id for p in engine.similar([ids["Keeper 0"]], n=10)}
    remove_root(conn, _root_id(conn, drop))
    # the same engine notices the library changed
    assert not dropped & {p.track_id for p in engine.similar([ids["Keeper 0"]], n=10)}
    assert not dropped & {p.track_id for p in engine.for_you(10)}
    conn.close()


def _play_one_then_remove(db_path: Path, folders: tuple[Path, Path]
                          ) -> tuple[sqlite3.Connection, dict[str, TrackId], int]:
    """Scan both folders, play "Dropped 0" once, remove the 'drop' folder; return (an
    open connection, ids by title, how many tracks left the library)."""
    scan(list(folders), db_path)
    ids = _ids_by_title(db_path)
    conn = connect(db_path)
    record_play(conn, Play(track_id=ids["Dropped 0"], started_at=time.time(), heard_ms=500,
                           fraction=1.0))
    return conn, ids, remove_root(conn, _root_id(conn, folders[1]))


def test_a_removed_folder_added_again_comes_back_with_its_history(
        db_path: Path, folders: tuple[Path, Path]) -> None:
    keep, drop = folders
    conn, ids, removed = _play_one_then_remove(db_path, folders)
    assert removed == 2
    assert browse.track_count(conn) == 3
    assert browse.search_ids(conn, "dropped") == []
    conn.close()
    report = scan([drop], db_path)
    assert (report.added, report.unchanged, report.removed) == (0, 2, 0)
    assert _ids_by_title(db_path) == ids  # the same tracks, with their ids
    conn = connect(db_path)
    assert browse.track_count(conn) == 5
    stats = browse.row(conn, ids["Dropped 0"])
    assert stats is not None and stats.play_count == 1
    conn.close()


def test_a_file_moved_from_a_removed_folder_into_the_library_keeps_its_history(
        db_path: Path, folders: tuple[Path, Path]) -> None:
    keep, drop = folders
    conn, ids, _removed = _play_one_then_remove(db_path, folders)
    conn.close()
    moved = keep / "from drop.ogg"
    (drop / "sub" / "d0.ogg").rename(moved)  # moved into the library
    copied = keep / "copy of d1.ogg"
    shutil.copyfile(drop / "sub" / "d1.ogg", copied)  # copied: the original stays
    report = scan(None, db_path)
    assert (report.moved, report.added, report.removed) == (2, 0, 0)
    assert _ids_by_title(db_path) == ids  # the same tracks, with their ids
    conn = connect(db_path)
    row = browse.row(conn, ids["Dropped 0"])
    assert row is not None and row.path == str(moved) and row.play_count == 1
    copy = browse.row(conn, ids["Dropped 1"])
    assert copy is not None and copy.path == str(copied)
    assert browse.track_count(conn) == 5
    conn.close()
    # The removed folder added again: the copy's original there is a track of its own.
    assert scan([drop], db_path).added == 1


def test_removing_an_inner_folder_keeps_tracks_the_outer_folder_holds(
        db_path: Path, folders: tuple[Path, Path]) -> None:
    keep, drop = folders
    scan([drop / "sub"], db_path)  # the inner folder first: it owns the tracks
    scan([drop], db_path)
    conn = connect(db_path)
    assert remove_root(conn, _root_id(conn, drop / "sub")) == 0
    assert browse.track_count(conn) == 2
    assert [r.track_count for r in list_roots(conn)] == [2]
    conn.close()
    assert scan(None, db_path).removed == 0


def test_removed_tracks_leave_the_queue(qtbot, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                        folders: tuple[Path, Path]) -> None:
    assert scan(list(folders), db_path).added == 5
    w = quiet_window(qtbot, db_path, tmp_path, with_playback=True)
    try:
        ids = _ids_by_title(db_path)
        w.playback.enqueue([ids["Keeper 0"], ids["Dropped 0"], ids["Keeper 1"], ids["Dropped 1"]])
        qtbot.waitUntil(lambda: not w.jobs.is_busy(), timeout=WAIT_MS)
        with qtbot.waitSignal(w.jobs.folder_removed, timeout=WAIT_MS):
            w.jobs.remove_folder(_root_id(w.conn, folders[1]), str(folders[1]))
        assert [i.track_id for i in w.playback.queue.items] == [ids["Keeper 0"], ids["Keeper 1"]]
        assert w.queue_model.rowCount() == 2
    finally:
        w.playback.stop()
        w.close()


def test_cli_scan_remove(db_path: Path, folders: tuple[Path, Path],
                         capsys: pytest.CaptureFixture[str]) -> None:
    keep, drop = folders
    scan(list(folders), db_path)
    assert cli_main(["scan", "--remove", str(keep / "nope")]) == 2
    assert "not a library folder" in capsys.readouterr().err
    assert cli_main(["scan", "--remove", str(drop) + "/"]) == 0
    assert "2 tracks left the library" in capsys.readouterr().out
    assert cli_main(["search", "Dropped"]) == 0
    assert capsys.readouterr().out == ""
    conn = connect(db_path)
    assert [r.path for r in list_roots(conn)] == [str(keep)]
    conn.close()
    # the library listing shows what is in the library; --all adds the removed tracks
    assert cli_main(["library", "--json"]) == 0
    assert sorted(t["title"] for t in json.loads(capsys.readouterr().out)) == [
        "Keeper 0", "Keeper 1", "Keeper 2"]
    assert cli_main(["library", "--all"]) == 0
    away = [line for line in capsys.readouterr().out.splitlines() if "not available" in line]
    assert len(away) == 2 and all("Dee - Dropped" in line for line in away)


def test_a_track_the_analysis_could_not_use_does_not_hold_its_folder_at_a_percentage(
        qtbot, window: MainWindow, folders: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    from player.features_store import FeatureRow, write_batch

    w = window
    keep = _root_id(w.conn, folders[0])
    ids = _ids_by_title(Path(w.conn.execute("PRAGMA database_list").fetchone()[2]))
    item = w.sidebar._items[f"root:{keep}"]
    w.refresh_playlists()
    assert item.text(0).endswith("3 · 0% analysed")
    ok = [FeatureRow(ids[f"Keeper {n}"], np.zeros(8, np.float32), {}) for n in (0, 1)]
    write_batch(w.conn, 1, ok[:1], [(ids["Keeper 2"], "the analysed excerpt is silent")])
    w.refresh_playlists()
    item = w.sidebar._items[f"root:{keep}"]
    assert item.text(0).endswith("3 · 33% analysed")  # one still waits
    write_batch(w.conn, 1, ok[1:])
    w.refresh_playlists()
    item = w.sidebar._items[f"root:{keep}"]
    assert item.text(0).endswith("keep  ·  3 tracks")  # done: two analysed, one failed
    assert "1 could not be analysed" in item.toolTip(0)
    assert [(r.analyzed_count, r.failed_count) for r in browse.roots(w.conn)
            if r.id == keep] == [(2, 1)]
