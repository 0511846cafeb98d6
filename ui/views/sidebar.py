"""The sidebar: For you, the library's views, playlists, history and the music folders."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMenu,
    QMessageBox,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from player.browse import RootRow
from ui.models import plain_tooltip
from ui.views.icons import icon

KEY_ROLE = Qt.ItemDataRole.UserRole + 1

# Fixed entries: (key, label, icon). Playlists and folders are added under their headers.
TOP = (("foryou", "For you", "foryou"),)
LIBRARY = (("songs", "Songs", "music"), ("albums", "Albums", "album"),
           ("artists", "Artists", "artist"), ("genres", "Genres", "genre"))


class Sidebar(QTreeWidget):
    """Navigation; `selected(key)` is emitted with keys like 'songs', 'playlist:3', 'root:1'."""

    selected = Signal(str)
    add_folder_requested = Signal()
    remove_folder_requested = Signal(int)  # a root id
    rescan_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(10)
        self.setIconSize(QSize(18, 18))
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._items: dict[str, QTreeWidgetItem] = {}
        for key, label, ic in TOP:
            self._add(None, key, label, ic)
        self._library = self._header("LIBRARY")
        for key, label, ic in LIBRARY:
            self._add(self._library, key, label, ic)
        self._playlists = self._header("MIXES AND PLAYLISTS")
        self._history = self._add(None, "history", "History", "history")
        self._folders = self._header("FOLDERS")
        self._add_folder = self._add(self._folders, "add-folder", "Add folder…", "add")
        self.expandAll()
        self.currentItemChanged.connect(self._on_current_changed)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu)

    def _header(self, text: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([text])
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.8)
        font.setBold(True)
        item.setFont(0, font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setForeground(0, self.palette().placeholderText())
        self.addTopLevelItem(item)
        return item

    def _add(self, parent: QTreeWidgetItem | None, key: str, label: str, ic: str,
             index: int | None = None) -> QTreeWidgetItem:
        item = QTreeWidgetItem([label])  # QTreeWidget items draw text as plain text
        item.setData(0, KEY_ROLE, key)
        item.setIcon(0, icon(ic))
        if parent is None:
            self.addTopLevelItem(item)
        elif index is None:
            parent.addChild(item)
        else:
            parent.insertChild(index, item)
        self._items[key] = item
        return item

    def select(self, key: str) -> None:
        """Make the entry with this key current (no-op when it does not exist)."""
        item = self._items.get(key)
        if item is not None:
            self.setCurrentItem(item)

    def current_key(self) -> str | None:
        """Return the key of the current entry."""
        item = self.currentItem()
        return None if item is None else item.data(0, KEY_ROLE)

    def set_playlists(self, playlists: Sequence[tuple[int, str, str]]) -> None:
        """Show (id, name, kind) playlists; generated ones (mixes) get the mix icon."""
        current = self.current_key()
        self.blockSignals(True)
        for i in reversed(range(self._playlists.childCount())):
            child = self._playlists.takeChild(i)
            self._items.pop(child.data(0, KEY_ROLE), None)
        for pid, name, kind in playlists:
            item = self._add(self._playlists, f"playlist:{pid}", name,
                             "mix" if kind == "generated" else "playlist")
            item.setToolTip(0, plain_tooltip(name))
        if current and current in self._items:
            self.setCurrentItem(self._items[current])
        self.blockSignals(False)

    def set_roots(self, roots: Sequence[RootRow], busy: dict[int, str] | None = None) -> None:
        """Show the music folders with their scan and analysis state."""
        busy = busy or {}
        current = self.current_key()
        # Rebuilding must not look like the user picking another entry.
        self.blockSignals(True)
        for i in reversed(range(self._folders.childCount())):
            child = self._folders.child(i)
            if child is not self._add_folder:
                self._folders.takeChild(i)
                self._items.pop(child.data(0, KEY_ROLE), None)
        for n, r in enumerate(roots):
            name = r.path.rstrip("/").rsplit("/", 1)[-1] or r.path
            state = busy.get(r.id) or _root_state(r)
            short = busy.get(r.id) or _root_short(r)
            item = self._add(self._folders, f"root:{r.id}", f"{name}  ·  {short}", "folder",
                             index=n)
            item.setToolTip(0, plain_tooltip(f"{r.path}\n{state}"))
            item.setStatusTip(0, state)
        if current in self._items:
            self.setCurrentItem(self._items[current])
        self.blockSignals(False)

    def folder_menu(self, key: str) -> QMenu | None:
        """Return the context menu of a folder entry ('root:3'), None for other entries."""
        kind, _, ref = key.partition(":")
        if kind != "root" or not ref:
            return None
        menu = QMenu(self)
        menu.addAction(icon("refresh"), "Check for changes", self.rescan_requested)
        remove = menu.addAction(icon("close"), "Remove from library…",
                                lambda: self.remove_folder_requested.emit(int(ref)))
        remove.setObjectName("remove_folder")
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        menu = self.folder_menu(str(item.data(0, KEY_ROLE) or "")) if item else None
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.viewport().mapToGlobal(pos))

    def _on_current_changed(self, current: QTreeWidgetItem | None, _prev: object) -> None:
        if current is None:
            return
        key = current.data(0, KEY_ROLE)
        if key == "add-folder":
            self.add_folder_requested.emit()
        elif key:
            self.selected.emit(key)


def _root_state(r: RootRow) -> str:
    if r.last_scan_status == "missing":
        return "Not found (unmounted?) — its tracks are kept"
    if r.last_scan_at is None:
        return "Not scanned yet"
    analysed = f"{r.analyzed_count * 100 // r.track_count}% analysed" if r.track_count else ""
    parts = [f"{r.track_count} tracks", analysed]
    if r.failed_count:
        parts.append(f"{r.failed_count} could not be analysed (their Properties say why, "
                     "as does `timbre errors`)")
    if r.last_scan_status == "cancelled":
        parts.append("scan cancelled")
    return " · ".join(p for p in parts if p)


def _root_short(r: RootRow) -> str:
    if r.last_scan_status == "missing":
        return "missing"
    if r.last_scan_at is None:
        return "not scanned"
    # A track the analysis could not use is done with, not waiting: it does not hold the
    # folder at "98% analysed" for ever.
    if r.track_count and r.analyzed_count + r.failed_count < r.track_count:
        return f"{r.track_count} · {r.analyzed_count * 100 // r.track_count}% analysed"
    return f"{r.track_count} tracks"


def confirm_remove_folder(parent: QWidget, root: RootRow) -> bool:
    """Ask before taking a folder out of the library; return True to go ahead."""
    box = QMessageBox(parent)
    box.setObjectName("confirmRemoveFolder")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Remove folder")
    box.setTextFormat(Qt.TextFormat.PlainText)  # a folder name is untrusted text
    box.setText(f"Remove “{root.path}” from the library?")
    box.setInformativeText(
        f"Its {root.track_count:,} tracks leave your songs, search and recommendations, "
        "and the folder is no longer watched. The files are not touched, and your "
        "listening history, likes and playlists are kept: add the folder again to get "
        "its tracks back.")
    remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is remove
