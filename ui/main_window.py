"""The main window: sidebar, pages, search, now-playing bar, queue, status bar.

It only assembles and wires: each piece lives in ui/views/, every read in player/browse,
and the collaborators (playback, scanner, analysis, engine) are passed in by ui/app.py;
any of them may be None and the window still works without that capability.
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
    QFileDialog,
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
from ui.models import QueueModel, TrackTableModel
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
from ui.views.properties import PropertiesDialog, open_properties
from ui.views.recommend import EngineFactory, Recommendations
from ui.views.sidebar import Sidebar, confirm_remove_folder
from ui.views.track_view import TrackTableView
from ui.workers import QueryRunner

log = logging.getLogger(__name__)

SEARCH_DELAY_MS = 80  # wait for a pause in typing; the query itself takes a few ms
SEARCH_LIMIT = 500
LEARN_EVERY_PLAYS = 25  # plays between background updates of the taste model
# Background jobs that import or compute much run in a child process
# (ui/views/child_jobs.py): on a thread of this process their Python and numpy work, and
# their imports (1.2 s of scipy for the analysis), hold the GIL, and the window stalls
# (bench/ui.py saw 0.8 s while the mixes of 100,000 tracks were made). These are the
# functions app.py's collaborators call, by name. Scans stay on a thread: they wait on
# their reader processes most of the time.
CHILD_JOBS = {"analyze": "recommender.analysis:analyze",
              "learn_taste": "recommender.cli_taste:train",
              "make_mixes": "recommender.cli_playlists_gen:refresh_mixes"}


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
    in_child: dict[str, str] = field(default_factory=lambda: dict(CHILD_JOBS))


class MainWindow(QMainWindow):
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

    # -- navigation -------------------------------------------------------------------------

    def show_view(self, key: str) -> None:
        """Show a page by key ('songs', 'albums', 'playlist:3', 'root:1', ...)."""
        kind, _, ref = key.partition(":")
        if kind not in self._page_of:
            return
        if kind == "songs" and self.songs.table.track_model().query() is not None \
                and self.songs.table.track_model().rowCount() == 0:
            self.load_songs()
        elif kind == "albums":
            self.albums.refresh()
        elif kind in ("artists", "genres"):
            self._page_of[kind].refresh()  # type: ignore[attr-defined]
        elif kind == "history":
            self.history.refresh()
        elif kind == "foryou" and (self._foryou_stale or self.foryou.model.rowCount() == 0):
            self._foryou_stale = False
            self.foryou.request_refresh()
        elif kind == "playlist" and ref:
            self._show_playlist(int(ref))
        elif kind == "root" and ref:
            self._show_root(int(ref))
        self.pages.setCurrentWidget(self._page_of[kind])
        if kind not in ("search", "album", "welcome"):
            self.settings.setValue("window/view", key)
            self.sidebar.blockSignals(True)
            self.sidebar.select(key)
            self.sidebar.blockSignals(False)

    def current_view(self) -> str:
        """Return the key of the page shown."""
        widget = self.pages.currentWidget()
        return next(k for k, w in self._page_of.items() if w is widget)

    def _show_playlist(self, playlist_id: int) -> None:
        from player import playlists

        try:
            info = playlists.get_playlist(self.conn, playlist_id)
            ids = playlists.playlist_tracks(self.conn, playlists.PlaylistId(playlist_id))
        except (playlists.PlaylistError, ValueError) as exc:
            self.statusBar().showMessage(str(exc), 5000)
            return
        self.playlist_page.set_title(info.name)
        self.playlist_page.table.track_model().set_ids(ids)

    def _show_root(self, root_id: int) -> None:
        root = next((r for r in browse.roots(self.conn) if r.id == root_id), None)
        if root is None:
            return
        self._root_shown = root_id
        self.root_page.set_title(root.path)
        ids = browse.track_ids_in_root(self.conn, root_id)
        self.root_page.table.track_model().set_ids(ids)

    def _on_albums_album_opened(self, album: browse.AlbumRow | None) -> None:
        if album is not None:
            self.album_page.show_album(album)
            self.pages.setCurrentWidget(self.album_page)

    # -- search -----------------------------------------------------------------------------

    def focus_search(self) -> None:
        """Put the cursor in the search box."""
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def run_search(self) -> None:
        """Show the tracks matching the search box (or go back when it is empty)."""
        self.search_timer.stop()
        text = self.search_box.text().strip()
        if not text:
            if self.current_view() == "search":
                self.show_view(self._before_search or "songs")
            return
        if self.current_view() != "search":
            self._before_search = self.settings.value("window/view", "songs")
        ids = self._search(self.conn, text, SEARCH_LIMIT)
        self.search_page.set_title(f"Results for “{text}”")
        self.search_page.table.track_model().set_ids(ids)
        self.pages.setCurrentWidget(self.search_page)

    def _on_escape(self) -> None:
        if self.search_box.text():
            self.search_box.clear()

    # -- the library ------------------------------------------------------------------------

    def choose_folder(self) -> None:
        """Ask for a music folder and add it."""
        start = str(self.c.music_dir) if self.c.music_dir else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a music folder", start)
        if folder:
            self.add_folders([folder])
        key = self.settings.value("window/view", "songs")
        self.sidebar.blockSignals(True)
        self.sidebar.select(str(key))
        self.sidebar.blockSignals(False)

    def add_folders(self, folders: list[str]) -> None:
        """Scan folders into the library (in the background), then analyse them."""
        self.jobs.add_folders(folders)
        if self.current_view() == "welcome":
            self.show_view("songs")

    def ask_remove_folder(self, root_id: int) -> None:
        """Ask, then take a music folder out of the library."""
        root = next((r for r in browse.roots(self.conn) if r.id == root_id), None)
        if root is not None and confirm_remove_folder(self, root):
            self.remove_folder(root_id)

    def remove_folder(self, root_id: int) -> None:
        """Take a music folder out of the library (in the background); its plays stay."""
        root = next((r for r in browse.roots(self.conn) if r.id == root_id), None)
        if root is not None:
            self.jobs.remove_folder(root_id, root.path)

    def _on_jobs_folder_removed(self, root_id: int, _removed: int) -> None:
        view = self.current_view()
        if view == "root" and self._root_shown == root_id:
            self.show_view("songs")
        elif view == "search":
            self.run_search()  # results are a fixed list: ask again without the folder
        elif view == "playlist":
            self.show_view(str(self.settings.value("window/view", "songs")))
        self.refresh_library(force=True)
        self.refresh_foryou()

    def try_demo(self) -> None:
        """Generate the demo library and add it."""
        if self.c.demo_dir is None:
            return
        self.jobs.make_demo(self.c.demo_dir)
        self.show_view("songs")

    def load_songs(self) -> None:
        """Query the song list in a worker: 100,000 ids sorted take longer than a frame."""
        model = self.songs.table.track_model()
        query = model.query()
        if query is None:
            return
        flt, sort, descending = query
        self.queries.run(
            "songs", lambda conn: browse.track_ids(conn, flt, sort=sort, descending=descending),
            lambda ids: model.set_query_result(flt, sort, descending, list(ids)))  # type: ignore[call-overload]

    def refresh_library(self, force: bool = False) -> None:
        """Re-read what changed in the library into the visible views."""
        if self._closing:
            return
        revision = browse.revision(self.conn)
        if revision == self._revision and not force:
            return  # a poll during a job that has not written tracks yet
        self._revision = revision
        view = self.current_view()
        if view == "songs":
            self.load_songs()
        elif view == "albums":
            self.albums.refresh()
        elif view in ("artists", "genres"):
            self._page_of[view].refresh()  # type: ignore[attr-defined]
        elif view == "history":
            self.history.refresh()
        elif view == "welcome" and not browse.is_empty(self.conn):
            self.show_view("songs")
        self.sidebar.set_roots(browse.roots(self.conn))

    def refresh_playlists(self) -> None:
        """Re-read the playlists into the sidebar."""
        try:
            from player import playlists

            if not browse.is_empty(self.conn):
                playlists.ensure_default_playlists(self.conn)  # once per library
            self.sidebar.set_playlists(
                [(p.id, p.name, p.kind) for p in playlists.list_playlists(self.conn)])
        except ImportError:
            pass
        self.sidebar.set_roots(browse.roots(self.conn))

    def _on_jobs_analysis_finished(self) -> None:
        self.jobs.learn_taste()  # new features: (re)train the taste model on the history
        self.jobs.refresh_mixes()  # and regroup the library into mixes
        self.refresh_library()
        self.refresh_foryou()

    def refresh_foryou(self) -> None:
        """Recompute For you now if it is shown or feeds the queue, else when next shown."""
        item = self.playback.queue.current_item() if self.playback is not None else None
        if self.current_view() == "foryou" or (item is not None and item.source == "foryou"):
            self._foryou_stale = False
            self.foryou.request_refresh()
        else:
            self._foryou_stale = True

    # -- recommendations --------------------------------------------------------------------

    def play_similar(self, seeds: list[TrackId]) -> None:
        """Start a radio from seeds: the seed plays now, similar tracks follow."""
        self._radio_seeds = list(seeds)
        self.statusBar().showMessage("Finding similar tracks…", 3000)
        self.recs.start_radio(seeds)

    def _on_recs_radio_ready(self, picks: list[Any]) -> None:
        seeds = self._radio_seeds
        ids = list(seeds[:1]) + [p.track_id for p in picks]
        if self.playback is not None and ids:
            self.playback.play_tracks(ids, start=0, source="radio",
                                      source_ref=str(int(seeds[0])) if seeds else None)
        self.statusBar().showMessage(f"Radio: {len(picks)} similar tracks queued", 5000)

    def _on_recs_radio_more(self, picks: list[Any]) -> None:
        if self.playback is not None and picks:
            self.playback.enqueue([p.track_id for p in picks], source="radio")

    def _on_recs_picks_ready(self, picks: list[Any]) -> None:
        self.foryou.set_picks(picks)
        self._foryou_picks = picks

    def _on_recs_failed(self, kind: str, text: str) -> None:
        if kind == "foryou":
            self.foryou.set_error(f"No recommendations yet: {text}")
        else:
            self.statusBar().showMessage(f"Recommendations failed: {text}", 8000)

    def _on_foryou_play(self, ids: list[TrackId], row: int) -> None:
        self.recs.stop_radio()
        self.actions_.play(ids, row, "foryou")

    def _on_foryou_not_this(self, ids: list[TrackId]) -> None:
        self.actions_.not_this(ids)

    def _on_foryou_less_like_this(self, ids: list[TrackId]) -> None:
        self.actions_.less_like_this(ids)

    def _on_feedback_changed(self) -> None:
        for model in self._track_models:
            model.invalidate_rows()
        if self.playback is not None and self.playback.current_track is not None:
            self.now_playing.set_liked(
                browse.is_liked(self.conn, self.playback.current_track.id))
        self.refresh_foryou()

    def show_properties(self, track_id: TrackId) -> PropertiesDialog | None:
        """Open the Properties dialog for a track (with its suggested tags to answer)."""
        return open_properties(self, self.conn, self.queries, track_id,
                               lambda: self._on_feedback_changed())

    # -- playback ---------------------------------------------------------------------------

    def _on_link_queue_low(self, source: str) -> None:
        if source == "radio":
            self.recs.more_radio()
        elif source == "foryou":
            queued = {i.track_id for i in self.playback.queue.items}
            fresh = [p.track_id for p in self._foryou_picks if p.track_id not in queued]
            if fresh:
                self.playback.enqueue(fresh[:10], source="foryou")
            self.foryou.request_refresh()

    def _on_link_played(self, _play: Any) -> None:
        self._plays_since_learning += 1
        if self._plays_since_learning >= LEARN_EVERY_PLAYS:
            self._plays_since_learning = 0
            self.jobs.learn_taste()  # the taste model learns the new plays in the background
            self.jobs.refresh_mixes()  # personal mixes follow the listening
        if self.current_view() == "history":
            self.history.refresh()
        self.refresh_foryou()  # For you follows the listening

    def _on_now_playing_queue_toggled(self, on: bool) -> None:
        self.queue_panel.setVisible(on)
        self.settings.setValue("window/queue_visible", on)

    def _on_now_playing_like(self) -> None:
        if self.playback is not None and self.playback.current_track is not None:
            self.actions_.toggle_like([self.playback.current_track.id])

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
