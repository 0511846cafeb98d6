"""Moving between the main window's pages: the sidebar's views, playlists, folders, and
the search box's results.

A mixin of MainWindow (ui/main_window.py), which builds the pages it switches between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QLineEdit, QStackedWidget, QStatusBar, QWidget

from player import browse, playlists
from player.models import TrackId
from ui.views.foryou import ForYouPage
from ui.views.pages import AlbumPage, AlbumsPage, HistoryPage, SongsPage
from ui.views.sidebar import Sidebar

SEARCH_DELAY_MS = 80  # wait for a pause in typing; the query itself takes a few ms
SEARCH_LIMIT = 500


class Navigation:
    """Show a page by key, keep the sidebar in step, and run searches."""

    # The window's parts this uses (built by MainWindow._build).
    conn: sqlite3.Connection
    settings: QSettings
    sidebar: Sidebar
    pages: QStackedWidget
    _page_of: dict[str, QWidget]
    songs: SongsPage
    search_page: SongsPage
    playlist_page: SongsPage
    root_page: SongsPage
    _root_shown: int | None
    albums: AlbumsPage
    album_page: AlbumPage
    history: HistoryPage
    foryou: ForYouPage
    _foryou_stale: bool
    search_box: QLineEdit
    search_timer: QTimer
    _search: Callable[[sqlite3.Connection, str, int], list[TrackId]]
    _before_search: str | None
    statusBar: Callable[[], QStatusBar]  # QMainWindow's
    load_songs: Callable[[], None]  # LibraryFolders.load_songs

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
