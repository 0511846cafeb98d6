"""The main window: sidebar, pages, search, now-playing bar, queue, status bar.

It only assembles and wires: each piece lives in ui/views/, every read in player/browse,
and the collaborators (playback, scanner, analysis, engine) are passed in by ui/app.py;
any of them may be None and the window still works without that capability. What the
window does is in three mixins: moving between pages and searching
(ui/window_navigation.py), the library's folders and jobs (ui/window_library.py), and
recommendations, feedback and plays (ui/window_listening.py).
"""

from __future__ import annotations

import gc
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from player import browse
from player.db import connect
from player.models import TrackId
from ui.models import TrackTableModel
from ui.queue_model import QueueModel
from ui.views.actions import TrackActions
from ui.views.foryou import ForYouPage
from ui.views.icons import app_icon, icon
from ui.views.library_jobs import JobStatus, LibraryJobs
from ui.views.nowplaying import NowPlayingBar, QueuePanel
from ui.views.pages import (
    AlbumPage,
    AlbumsPage,
    HistoryPage,
    NamesPage,
    SongsPage,
    WelcomePage,
)
from ui.views.playback_link import PlaybackLink
from ui.views.recommend import EngineFactory, Recommendations
from ui.views.sidebar import Sidebar
from ui.views.track_view import TrackTableView
from ui.window_library import LibraryFolders
from ui.window_listening import Listening
from ui.window_navigation import SEARCH_DELAY_MS, Navigation
from ui.workers import QueryRunner

log = logging.getLogger(__name__)


@dataclass
class Collaborators:
    """Everything the window works with; None means the capability is not available."""

    conn: sqlite3.Connection
    db_path: Path
    settings: QSettings
    playback: Any = None  # player.playback.PlaybackEngine
    scan: Any = None  # player.scanner.scan
    analyze: Any = None  # recommender.analysis.analyze
    make_engine: EngineFactory | None = None  # -> recommender.engine.Engine
    search: Any = None  # (conn, text, limit) -> list[TrackId]; default browse.search_ids
    make_demo: Any = None  # player.demo.generate
    learn_taste: Any = None  # recommender.cli_taste.train(db_path)
    make_mixes: Any = None  # recommender.cli_playlists_gen.refresh_mixes(db_path)
    demo_dir: Path | None = None
    music_dir: Path | None = None
    # Jobs to run in a child process instead of the callables above, by name, as
    # "module:function" (ui/views/child_jobs.py); ui/app.py names its own (CHILD_JOBS).
    in_child: dict[str, str] = field(default_factory=dict)


class MainWindow(Navigation, LibraryFolders, Listening, QMainWindow):
    """Timbre's window."""

    def __init__(self, c: Collaborators) -> None:
        super().__init__()
        self.c = c
        self.conn = c.conn
        self.settings = c.settings
        self.playback = c.playback
        self.setObjectName("mainWindow")
        self.setWindowTitle("Timbre")
        self.setWindowIcon(app_icon())
        self._search = c.search or browse.search_ids
        self._before_search: str | None = None
        self._track_models: list[TrackTableModel] = []
        self._revision: tuple[object, ...] = ()
        # For you is recomputed when it is looked at (or feeds the queue), not after
        # every play: fitting the engine on a large library costs time and memory.
        self._foryou_stale = False
        self._foryou_picks: list[Any] = []
        self._radio_seeds: list[TrackId] = []
        self._closing = False
        self.recs = Recommendations(c.make_engine, self)
        db_path = c.db_path
        self.queries = QueryRunner(lambda: connect(db_path), self)
        self.actions_ = TrackActions(self.conn, player=self.playback,
                                     radio=self.play_similar,
                                     show_properties=self.show_properties, parent=self)
        self._build()
        self._wire()
        self._shortcuts()
        self._restore()
        QTimer.singleShot(0, self._after_shown)

    # -- building ---------------------------------------------------------------------------

    def _table(self, key: str, **kw: Any) -> TrackTableView:
        model = TrackTableModel(self.conn, self, run_query=self.queries.run)  # type: ignore[arg-type]
        self._track_models.append(model)
        view = TrackTableView(model, key, self.settings, **kw)
        view.play_requested.connect(
            lambda ids, row, k=key: self.actions_.play(ids, row, _source_of(k)))
        view.menu_requested.connect(
            lambda ids, pos, v=view, k=key: self.actions_.popup(ids, pos, v, _source_of(k)))
        return view

    def _build(self) -> None:
        self.sidebar = Sidebar()
        self.pages = QStackedWidget()
        self.pages.setObjectName("pages")
        self.welcome = WelcomePage(self.c.music_dir)
        self.songs = SongsPage("Songs", self._table("songs"))
        self.search_page = SongsPage("Search", self._table("search"))
        self.playlist_page = SongsPage("Playlist", self._table("playlist"))
        self.root_page = SongsPage("Folder", self._table("root"))
        self.remove_root_button = self.root_page.add_button(
            QPushButton(icon("close"), "Remove from library…"))
        self._root_shown: int | None = None
        self.albums = AlbumsPage(self.queries)
        self.album_page = AlbumPage(self._table("album", visible=(
            "track", "title", "artist", "duration", "play_count", "bpm")), self.albums.loader)
        self.artists = NamesPage("artist", self.queries, self._table("artist", visible=(
            "title", "album", "year", "duration", "play_count")), self.settings)
        self.genres = NamesPage("genre", self.queries, self._table("genre", visible=(
            "title", "artist", "album", "duration", "play_count")), self.settings)
        self.history = HistoryPage(self.conn)
        self.foryou = ForYouPage(self.conn, self.settings)
        self._track_models.append(self.foryou.model)
        self._page_of = {
            "welcome": self.welcome, "songs": self.songs, "search": self.search_page,
            "albums": self.albums, "album": self.album_page, "artists": self.artists,
            "genres": self.genres, "history": self.history, "foryou": self.foryou,
            "playlist": self.playlist_page, "root": self.root_page,
        }
        for page in self._page_of.values():
            self.pages.addWidget(page)

        self.search_box = QLineEdit()
        self.search_box.setObjectName("search")
        self.search_box.setPlaceholderText("Search your music  (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_box.setMinimumWidth(320)
        top = QHBoxLayout()
        top.setContentsMargins(12, 8, 12, 0)
        top.addStretch(1)
        top.addWidget(self.search_box)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addLayout(top)
        cl.addWidget(self.pages, 1)

        self.queue_model = QueueModel(self.conn, self)
        self._track_models.append(self.queue_model)
        self.queue_panel = QueuePanel(self.queue_model, self.settings)
        self.queue_panel.hide()

        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.queue_panel)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([220, 900, 320])

        self.now_playing = NowPlayingBar()
        self.now_playing.setEnabled(self.playback is not None)
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(0)
        bl.addWidget(self.splitter, 1)
        bl.addWidget(self.now_playing)
        self.setCentralWidget(body)

        self.job_status = JobStatus()
        self.statusBar().addPermanentWidget(self.job_status)
        self.jobs = LibraryJobs(self.c.db_path, self.job_status, scan=self.c.scan,
                                analyze=self.c.analyze, demo=self.c.make_demo,
                                roots=lambda: [r.path for r in browse.roots(self.conn)],
                                learn_taste=self.c.learn_taste,
                                make_mixes=self.c.make_mixes, in_child=self.c.in_child,
                                parent=self)
        self._plays_since_learning = 0
        self.resize(1280, 800)

    def _wire(self) -> None:
        self.sidebar.selected.connect(self.show_view)
        self.sidebar.add_folder_requested.connect(self.choose_folder)
        self.sidebar.remove_folder_requested.connect(self.ask_remove_folder)
        self.sidebar.rescan_requested.connect(self.jobs.rescan)
        self.remove_root_button.clicked.connect(
            lambda: self._root_shown is not None and self.ask_remove_folder(self._root_shown))
        self.jobs.folder_removed.connect(self._on_jobs_folder_removed)
        self.welcome.add_folder.connect(self.choose_folder)
        self.welcome.use_folder.connect(lambda path: self.add_folders([path]))
        self.welcome.try_demo.connect(self.try_demo)
        self.albums.album_opened.connect(self._on_albums_album_opened)
        self.album_page.back.connect(lambda: self.show_view("albums"))
        self.history.play_requested.connect(
            lambda ids, row: self.actions_.play(ids, row, "library"))
        self.foryou.refresh_requested.connect(self.recs.for_you)
        self.foryou.table.play_requested.connect(self._on_foryou_play)
        self.foryou.table.menu_requested.connect(
            lambda ids, pos: self.actions_.popup(ids, pos, self.foryou.table, "foryou"))
        self.foryou.not_this.connect(self._on_foryou_not_this)
        self.foryou.less_like_this.connect(self._on_foryou_less_like_this)
        self.recs.picks_ready.connect(self._on_recs_picks_ready)
        self.recs.radio_ready.connect(self._on_recs_radio_ready)
        self.recs.radio_more.connect(self._on_recs_radio_more)
        self.recs.failed.connect(self._on_recs_failed)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)
        self.search_timer.timeout.connect(self.run_search)
        self.search_box.textChanged.connect(lambda _t: self.search_timer.start())
        self.search_box.returnPressed.connect(self.run_search)
        self.jobs.library_changed.connect(self.refresh_library)
        self.jobs.finished_all.connect(lambda: self.refresh_library(force=True))
        self.jobs.finished_all.connect(self.refresh_playlists)
        self.jobs.analysis_finished.connect(self._on_jobs_analysis_finished)
        self.jobs.taste_learned.connect(self.recs.use_taste)
        self.jobs.mixes_changed.connect(self.refresh_playlists)
        self.jobs.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.actions_.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.actions_.feedback_changed.connect(self._on_feedback_changed)
        self.actions_.playlists_changed.connect(self.refresh_playlists)
        self.now_playing.queue_toggled.connect(self._on_now_playing_queue_toggled)
        self.now_playing.like_clicked.connect(self._on_now_playing_like)
        self.queue_panel.table.menu_requested.connect(
            lambda ids, pos: self.actions_.popup(ids, pos, self.queue_panel.table, "library"))
        if self.playback is not None:
            self._wire_playback()

    def _wire_playback(self) -> None:
        self.link = PlaybackLink(self.playback, self.conn, self.now_playing, self.queue_panel,
                                 self._track_models, self.recs, self)
        self.link.track_changed.connect(lambda title: self.setWindowTitle(f"{title} — Timbre"))
        self.link.played.connect(self._on_link_played)
        self.link.queue_low.connect(self._on_link_queue_low)
        self.link.message.connect(lambda text: self.statusBar().showMessage(text, 8000))

    def _shortcuts(self) -> None:
        def bind(keys: QKeySequence | str | Qt.Key, slot: Any) -> None:
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)

        bind("Ctrl+F", self.focus_search)
        bind("Escape", self._on_escape)
        if self.playback is not None:
            pb = self.playback
            bind("Space", pb.play_pause)
            bind("Ctrl+Right", pb.next)
            bind("Ctrl+Left", pb.previous)
            bind(Qt.Key.Key_MediaPlay, pb.play_pause)
            bind(Qt.Key.Key_MediaTogglePlayPause, pb.play_pause)
            bind(Qt.Key.Key_MediaPause, pb.pause)
            bind(Qt.Key.Key_MediaStop, pb.stop)
            bind(Qt.Key.Key_MediaNext, pb.next)
            bind(Qt.Key.Key_MediaPrevious, pb.previous)

    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        splitter = self.settings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        if self.settings.value("window/queue_visible", False, type=bool):
            self.now_playing.queue_button.setChecked(True)

    def _after_shown(self) -> None:
        """Fill the views after the window is up, so start-up shows a window at once."""
        if self._closing:
            return
        self.refresh_playlists()
        if browse.is_empty(self.conn):
            self.show_view("welcome")
            # An item view selects its first row when it gets focus: keep focus off the
            # sidebar so the welcome page stays up until the user picks something.
            self.welcome.add_button.setFocus()
            self.sidebar.setCurrentItem(None)
        else:
            last = str(self.settings.value("window/view", "songs"))
            self.show_view(last if last in self._page_of or ":" in last else "songs")
            self._revision = browse.revision(self.conn)
            self.jobs.start_watching()
            self.jobs.analyse()  # picks up tracks left unanalysed last time
        if self.playback is not None:
            self.link.show_state()
        _freeze_startup_objects()

    # -- closing ----------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        # Worker threads are children of the window: every one must have ended before
        # the window is deleted, and signals still queued must not start new ones.
        self._closing = True
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()
        self.jobs.shutdown()
        self.recs.shutdown()
        self.queries.shutdown()
        self.albums.loader.stop()
        if self.playback is not None:
            self.playback.close()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1280, 800)


def _freeze_startup_objects() -> None:
    """Move what start-up built out of the garbage collector's sight, once per process.

    The modules, widgets and models live as long as the window; a full collection
    walked all of them each time (100-240 ms at 100,000 tracks) and stalled scrolling
    (bench/ui.py). Once: a later window (tests make many) would freeze the garbage of
    the ones before it for good.
    """
    global _FROZEN
    if not _FROZEN:
        _FROZEN = True
        gc.freeze()


_FROZEN = False


def _source_of(view_key: str) -> str:
    """Return the history source for plays started from a view."""
    return {"search": "search", "album": "album", "playlist": "playlist"}.get(view_key, "library")
