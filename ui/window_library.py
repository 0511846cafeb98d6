"""The main window's library side: adding and removing music folders, the demo, and
re-reading the views when a background job (scan, analysis, removal) changed the library.

A mixin of MainWindow (ui/main_window.py); the jobs themselves run in LibraryJobs
(ui/views/library_jobs.py), whose signals MainWindow._wire connects to the slots here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from player import browse, playlists
from player.library import missing_tracks
from ui.views.library_jobs import LibraryJobs
from ui.views.pages import AlbumsPage, HistoryPage, SongsPage
from ui.views.sidebar import Sidebar, confirm_remove_folder
from ui.workers import QueryRunner

if TYPE_CHECKING:
    from ui.main_window import Collaborators


class LibraryFolders:
    """Add and remove folders, and keep the views in step with the library's contents."""

    # The window's parts this uses (built by MainWindow).
    c: Collaborators
    conn: sqlite3.Connection
    playback: Any  # player.playback.PlaybackEngine, or None
    settings: QSettings
    sidebar: Sidebar
    jobs: LibraryJobs
    queries: QueryRunner
    songs: SongsPage
    albums: AlbumsPage
    history: HistoryPage
    _page_of: dict[str, QWidget]
    _root_shown: int | None
    _revision: tuple[object, ...]
    _closing: bool
    # and the other parts' methods
    show_view: Callable[[str], None]  # Navigation
    current_view: Callable[[], str]  # Navigation
    run_search: Callable[[], None]  # Navigation
    refresh_foryou: Callable[[], None]  # Listening

    # -- the library ------------------------------------------------------------------------

    def choose_folder(self) -> None:
        """Ask for a music folder and add it."""
        start = str(self.c.music_dir) if self.c.music_dir else str(Path.home())
        folder = QFileDialog.getExistingDirectory(
            self, "Add a music folder", start)  # type: ignore[arg-type]
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
        if root is not None and confirm_remove_folder(self, root):  # type: ignore[arg-type]
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
        self._drop_removed_from_queue()
        self.refresh_library(force=True)
        self.refresh_foryou()

    def _drop_removed_from_queue(self) -> None:
        """Take the tracks that left the library out of the queue (the playing one ends first)."""
        if self.playback is None:
            return
        items = self.playback.queue.items
        gone = missing_tracks(self.conn, (item.track_id for item in items))
        current = self.playback.queue.current
        drop = [n for n, item in enumerate(items) if item.track_id in gone and n != current]
        if drop:
            self.playback.remove(drop)

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
        if not browse.is_empty(self.conn):
            playlists.ensure_default_playlists(self.conn)  # once per library
        self.sidebar.set_playlists(
            [(p.id, p.name, p.kind) for p in playlists.list_playlists(self.conn)])
        self.sidebar.set_roots(browse.roots(self.conn))

    def _on_jobs_analysis_finished(self) -> None:
        self.jobs.learn_taste()  # new features: (re)train the taste model on the history
        self.jobs.refresh_mixes()  # and regroup the library into mixes
        self.refresh_library()
        self.refresh_foryou()
