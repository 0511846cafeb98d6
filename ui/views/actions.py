"""What can be done to tracks, from any view: the context menu and its actions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QPoint, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from player import browse, playlists
from player.library import missing_reason, missing_tracks
from player.models import TrackId
from player.queue import PlayQueue
from ui.views.icons import icon

log = logging.getLogger(__name__)


RECOMMENDED = ("radio", "foryou")
"""Queue sources a recommender filled: a ban or "not this" takes its tracks out."""


class PlayerPort(Protocol):
    """What the window asks of playback."""

    @property
    def queue(self) -> PlayQueue: ...
    def remove(self, indices: list[int]) -> None: ...

    def play_tracks(self, ids: list[TrackId], *, start: int = 0, source: str = "library",
                    source_ref: str | None = None,
                    why: Mapping[TrackId, str] | None = None) -> None: ...
    def play_next(self, ids: list[TrackId], *, source: str = "library",
                  source_ref: str | None = None) -> None: ...
    def enqueue(self, ids: list[TrackId], *, source: str = "library",
                source_ref: str | None = None, why: Mapping[TrackId, str] | None = None) -> None: ...


RadioFn = Callable[[Sequence[TrackId]], None]  # start a radio from seeds (Play similar)


class TrackActions(QObject):
    """Carries out track actions against playback, the feedback store and playlists.

    `feedback_changed` is emitted after a like, ban or "not this", so views redraw and
    the For you page can refill.
    """

    feedback_changed = Signal()
    playlists_changed = Signal()
    message = Signal(str)  # a short status-bar note

    def __init__(self, conn: sqlite3.Connection, *, player: PlayerPort | None,
                 radio: RadioFn | None, show_properties: Callable[[TrackId], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._conn = conn
        self.player = player
        self.radio = radio
        self._show_properties = show_properties

    # -- playback -----------------------------------------------------------------------

    def play(self, ids: Sequence[TrackId], start: int = 0, source: str = "library",
             source_ref: str | None = None, why: Mapping[TrackId, str] | None = None) -> None:
        """Replace the queue with ids and play from start (why: a recommender's reasons)."""
        if self.player is None or not ids:
            self.message.emit("Playback is not available")
            return
        self.player.play_tracks(list(ids), start=start, source=source, source_ref=source_ref,
                                why=why)

    def play_next(self, ids: Sequence[TrackId]) -> None:
        """Insert ids after the playing track."""
        if self.player is not None:
            self.player.play_next(list(ids))
            self.message.emit(_count(ids, "will play next"))

    def add_to_queue(self, ids: Sequence[TrackId]) -> None:
        """Append ids to the queue."""
        if self.player is not None:
            self.player.enqueue(list(ids))
            self.message.emit(_count(ids, "added to the queue"))

    def play_similar(self, ids: Sequence[TrackId]) -> None:
        """Start a radio seeded by ids."""
        if self.radio is None:
            self.message.emit("Recommendations are not available yet")
            return
        gone = missing_tracks(self._conn, ids)
        seeds = [i for i in ids if i not in gone]  # a history row may be of a removed folder
        if not seeds:
            why = missing_reason(self._conn, ids[0]) or ""
            self.message.emit(f"No similar tracks: {why}")
            return
        self.radio(seeds)

    # -- feedback -----------------------------------------------------------------------

    def toggle_like(self, ids: Sequence[TrackId]) -> None:
        """Like the tracks, or unlike them when all are liked already."""
        from player import feedback

        all_liked = all(browse.is_liked(self._conn, i) for i in ids)
        for tid in ids:
            if all_liked:
                feedback.unlike(self._conn, tid)
            else:
                feedback.like(self._conn, tid)
        self.feedback_changed.emit()

    def not_this(self, ids: Sequence[TrackId]) -> None:
        """Tell the recommender not to pick these tracks."""
        from player import feedback

        for tid in ids:
            feedback.not_this(self._conn, tid)
        unwanted = set(ids)
        self._drop_upcoming_picks(lambda queued: {t for t in queued if t in unwanted})
        self.message.emit(_count(ids, "won't be recommended"))
        self.feedback_changed.emit()

    def less_like_this(self, ids: Sequence[TrackId]) -> None:
        """Tell the recommender to pick fewer tracks like these."""
        from player import feedback

        for tid in ids:
            feedback.less_like_this(self._conn, tid)
        self.message.emit("Fewer tracks like this from now on")
        self.feedback_changed.emit()

    def ban_artist(self, ids: Sequence[TrackId]) -> None:
        """Never recommend the artist of these tracks: each one's first credited artist
        (of "Main; Guest", Main: the whole credit is not a name a ban could match)."""
        from player import feedback

        names = sorted({first for r in browse.rows(self._conn, ids).values()
                        if (first := (r.artist or "").split(";")[0].strip())})
        for name in names:
            feedback.ban_artist(self._conn, name)
        if names:
            from recommender.picks import credited_artists
            from recommender.similarity import normalise_text

            banned = {normalise_text(name) for name in names} - {""}

            def by_them(queued: Sequence[TrackId]) -> set[TrackId]:
                return {tid for tid, r in browse.rows(self._conn, queued).items()
                        if any(normalise_text(a) in banned
                               for a in credited_artists(r.artist, r.albumartist))}

            self._drop_upcoming_picks(by_them)
            self.message.emit(f"Banned from recommendations: {', '.join(names)}")
        self.feedback_changed.emit()

    def _drop_upcoming_picks(self, unwanted: Callable[[Sequence[TrackId]], set[TrackId]]) -> None:
        """Take the tracks a recommender queued (a radio's, For you's) out of the queue
        when they are now unwanted; what the user queued stays, and so does the one
        playing. (All of them, not only those after it: with shuffle on, any may be next.)"""
        if self.player is None:
            return
        queue = self.player.queue
        upcoming = [(i, item) for i, item in enumerate(queue.items)
                    if i != queue.current and item.source in RECOMMENDED]
        if not upcoming:
            return
        gone = unwanted([item.track_id for _, item in upcoming])
        drop = [i for i, item in upcoming if item.track_id in gone]
        if drop:
            self.player.remove(drop)

    def rate(self, ids: Sequence[TrackId], stars: int) -> None:
        """Give the tracks 1..5 stars; 0 removes their rating."""
        try:
            for tid in ids:
                playlists.set_rating(self._conn, tid, stars)
        except playlists.PlaylistError as exc:  # e.g. a track removed since the menu opened
            self.message.emit(str(exc))
            return
        self.message.emit(_count(ids, f"rated {'★' * stars}" if stars else "no longer rated"))
        self.feedback_changed.emit()

    # -- playlists ----------------------------------------------------------------------

    def add_to_playlist(self, ids: Sequence[TrackId], playlist_id: int | None,
                        parent: QWidget | None = None) -> None:
        """Add ids to a playlist; None asks for the name of a new one."""
        try:
            if playlist_id is None:
                name, ok = QInputDialog.getText(parent, "New playlist", "Name:")
                if not ok or not name.strip():
                    return
                playlists.create_playlist(self._conn, name, track_ids=list(ids))
            else:
                playlists.add_tracks(self._conn, playlists.PlaylistId(playlist_id), list(ids))
        except playlists.PlaylistError as exc:
            QMessageBox.warning(parent, "Playlist", str(exc))
            return
        self.message.emit(_count(ids, "added to the playlist"))
        self.playlists_changed.emit()

    # -- files --------------------------------------------------------------------------

    def show_in_folder(self, track_id: TrackId) -> None:
        """Open the folder holding the track's file in the file manager."""
        r = browse.row(self._conn, track_id)
        if r is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(r.path).parent)))

    def properties(self, track_id: TrackId) -> None:
        """Show the track's tags, file info and audio features."""
        self._show_properties(track_id)

    # -- the menu -----------------------------------------------------------------------

    def menu(self, ids: Sequence[TrackId], parent: QWidget, *, source: str = "library",
             extra: Sequence[QAction] = ()) -> QMenu:
        """Return the context menu for ids (the first is the one clicked)."""
        ids = list(ids)
        menu = QMenu(parent)
        menu.addAction(icon("play"), "Play", lambda: self.play(ids, 0, source))
        menu.addAction("Play next", lambda: self.play_next(ids))
        menu.addAction(icon("queue"), "Add to queue", lambda: self.add_to_queue(ids))
        similar = menu.addAction(icon("foryou"), "Play similar", lambda: self.play_similar(ids))
        similar.setObjectName("play_similar")
        sub = menu.addMenu(icon("playlist"), "Add to playlist")
        sub.addAction(icon("add"), "New playlist…",
                      lambda: self.add_to_playlist(ids, None, parent))
        try:
            manual = [p for p in playlists.list_playlists(self._conn)
                      if p.kind == playlists.MANUAL]
        except sqlite3.Error:  # a menu must open even when the library cannot be read
            manual = []
        if manual:
            sub.addSeparator()
        for p in manual:
            action = sub.addAction(p.name.replace("&", "&&"))  # & marks a mnemonic
            action.triggered.connect(
                lambda _=False, pid=p.id: self.add_to_playlist(ids, pid, parent))
        menu.addSeparator()
        liked = all(browse.is_liked(self._conn, i) for i in ids)
        menu.addAction(icon("heart-filled" if liked else "heart"),
                       "Unlike" if liked else "Like", lambda: self.toggle_like(ids))
        menu.addAction(icon("not-this"), "Not this", lambda: self.not_this(ids))
        menu.addAction("Less like this", lambda: self.less_like_this(ids))
        menu.addAction("Ban artist", lambda: self.ban_artist(ids))
        self._rating_menu(menu.addMenu("Rating"), ids)
        for action in extra:
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(icon("folder"), "Show in folder", lambda: self.show_in_folder(ids[0]))
        menu.addAction("Properties", lambda: self.properties(ids[0]))
        return menu

    def _rating_menu(self, sub: QMenu, ids: list[TrackId]) -> None:
        """Fill the Rating submenu; the tracks' common rating is checked."""
        from player import feedback

        try:
            current = {feedback.rating(self._conn, i) for i in ids}
        except (sqlite3.Error, feedback.UnknownTrack):  # a menu must open whatever the library says
            current = set()
        for stars in (5, 4, 3, 2, 1, 0):
            action = sub.addAction("★" * stars + "☆" * (5 - stars) if stars else "No rating")
            action.setObjectName(f"rating_{stars}")
            action.setCheckable(True)
            action.setChecked(current == {stars})
            action.triggered.connect(lambda _=False, n=stars: self.rate(ids, n))

    def popup(self, ids: Sequence[TrackId], pos: QPoint, parent: QWidget,
              source: str = "library") -> None:
        """Show the context menu for ids at a global position."""
        self.menu(ids, parent, source=source).popup(pos)


def _count(ids: Sequence[TrackId], what: str) -> str:
    return f"{len(ids)} track{'s' if len(ids) != 1 else ''} {what}"
