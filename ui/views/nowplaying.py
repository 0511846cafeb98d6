"""The now-playing bar and the queue panel.

Neither talks to playback: they show what they are told and emit what the user asked
for, and the window connects both sides. So they work (and are testable) with any
playback engine, or none.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QMouseEvent, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from player.browse import TrackRow
from ui.models import format_duration
from ui.queue_model import QueueModel
from ui.views.icons import icon, placeholder_cover, rounded
from ui.views.pages import plain_label
from ui.views.track_view import TrackTableView

ART = QSize(56, 56)
REPEAT_MODES = ("off", "queue", "track")


class SeekSlider(QSlider):
    """A slider that jumps to where it is clicked, not by a page step."""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderHandle, self)
        if event.button() == Qt.MouseButton.LeftButton and not handle.contains(event.pos()):
            value = QStyle.sliderValueFromPosition(self.minimum(), self.maximum(),
                                                   int(event.position().x()), self.width())
            self.setValue(value)
            self.sliderMoved.emit(value)
            self.sliderReleased.emit()
        super().mousePressEvent(event)


def _tool(name: str, tip: str, *, checkable: bool = False, size: int = 20) -> QToolButton:
    b = QToolButton()
    b.setIcon(icon(name))
    b.setIconSize(QSize(size, size))
    b.setToolTip(tip)
    b.setAutoRaise(True)
    b.setCheckable(checkable)
    b.setObjectName(name)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # space must reach the window, not a button
    return b


class NowPlayingBar(QFrame):
    """Cover, title, artist, album, transport buttons, position, shuffle, repeat, volume."""

    play_pause = Signal()
    previous = Signal()
    next = Signal()
    seek = Signal(int)  # ms
    volume_changed = Signal(int)  # 0..100
    shuffle_toggled = Signal(bool)
    repeat_changed = Signal(str)  # off | queue | track
    like_clicked = Signal()
    queue_toggled = Signal(bool)
    title_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("nowPlaying")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._repeat = "off"
        self._seeking = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(10)
        self.cover = QLabel()
        self.cover.setFixedSize(ART)
        layout.addWidget(self.cover)
        text = QVBoxLayout()
        text.setSpacing(0)
        self.title = plain_label("Nothing playing", object_name="npTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.artist = plain_label("", object_name="npArtist")
        self.album = plain_label("", object_name="npAlbum")
        for w in (self.title, self.artist, self.album):
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            w.setMinimumWidth(60)
            text.addWidget(w)
        holder = QWidget()
        holder.setLayout(text)
        holder.setFixedWidth(230)
        layout.addWidget(holder)
        self.like = _tool("heart", "Like", checkable=True)
        self.like.clicked.connect(lambda: self.like_clicked.emit())
        layout.addWidget(self.like)
        centre = QVBoxLayout()
        centre.setSpacing(2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.shuffle = _tool("shuffle", "Shuffle", checkable=True, size=18)
        self.shuffle.toggled.connect(self.shuffle_toggled)
        self.prev_button = _tool("previous", "Previous (Ctrl+Left)", size=22)
        self.prev_button.clicked.connect(self.previous)
        self.play_button = _tool("play", "Play (Space)", size=30)
        self.play_button.clicked.connect(self.play_pause)
        self.next_button = _tool("next", "Next (Ctrl+Right)", size=22)
        self.next_button.clicked.connect(self.next)
        self.repeat = _tool("repeat", "Repeat: off", checkable=True, size=18)
        self.repeat.clicked.connect(self._on_repeat_clicked)
        for b in (self.shuffle, self.prev_button, self.play_button, self.next_button,
                  self.repeat):
            buttons.addWidget(b)
        buttons.addStretch(1)
        centre.addLayout(buttons)
        pos = QHBoxLayout()
        self.elapsed = plain_label("0:00", object_name="elapsed")
        self.total = plain_label("0:00", object_name="total")
        self.position = SeekSlider(Qt.Orientation.Horizontal)
        self.position.setObjectName("position")
        self.position.setRange(0, 0)
        self.position.sliderPressed.connect(self._on_position_pressed)
        self.position.sliderMoved.connect(
            lambda v: self.elapsed.setText(format_duration(v / 1000)))
        self.position.sliderReleased.connect(self._on_position_released)
        pos.addWidget(self.elapsed)
        pos.addWidget(self.position, 1)
        pos.addWidget(self.total)
        centre.addLayout(pos)
        layout.addLayout(centre, 1)
        self.mute = _tool("volume", "Volume", size=18)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setObjectName("volume")
        self.volume.setRange(0, 100)
        self.volume.setFixedWidth(100)
        self.volume.valueChanged.connect(self._on_volume_changed)
        self.mute.clicked.connect(lambda: self.volume.setValue(0 if self.volume.value() else 70))
        layout.addWidget(self.mute)
        layout.addWidget(self.volume)
        self.queue_button = _tool("queue", "Show the queue", checkable=True)
        self.queue_button.toggled.connect(self.queue_toggled)
        layout.addWidget(self.queue_button)
        self.set_track(None)

    # -- what the window tells it ----------------------------------------------------------

    def set_track(self, row: TrackRow | None, cover: QImage | None = None) -> None:
        """Show a track (None: nothing playing)."""
        if row is None:
            self.title.setText("Nothing playing")
            self.artist.setText("")
            self.album.setText("")
            self.cover.setPixmap(placeholder_cover("", ART.width()).pixmap(ART))
            self.set_position(0, 0)
            self.like.setEnabled(False)
            return
        self.title.setText(row.title)
        self.artist.setText(row.artist or "Unknown artist")
        self.album.setText(row.album or "")
        for w, text in ((self.title, row.title), (self.artist, row.artist or ""),
                        (self.album, row.album or "")):
            w.setToolTip(f"<qt>{_escape(text)}</qt>" if text else "")
        self.set_cover(cover, f"{row.albumartist or row.artist}\x00{row.album}")
        self.like.setEnabled(True)
        self.set_liked(row.liked)

    def set_cover(self, image: QImage | None, seed: str = "") -> None:
        """Show a cover image (None: the placeholder)."""
        if image is None or image.isNull():
            self.cover.setPixmap(placeholder_cover(seed, ART.width()).pixmap(ART))
        else:
            self.cover.setPixmap(rounded(image, ART, 6))

    def set_position(self, position_ms: int, duration_ms: int | None = None) -> None:
        """Move the slider (ignored while the user drags it)."""
        if duration_ms is not None:
            self.position.setRange(0, max(0, duration_ms))
            self.total.setText(format_duration(duration_ms / 1000))
        if not self._seeking:
            self.position.setValue(position_ms)
            self.elapsed.setText(format_duration(position_ms / 1000))

    def set_playing(self, playing: bool) -> None:
        """Show play or pause on the big button."""
        self.play_button.setIcon(icon("pause" if playing else "play"))
        self.play_button.setToolTip("Pause (Space)" if playing else "Play (Space)")

    def set_liked(self, liked: bool) -> None:
        """Show the heart filled or not."""
        self.like.setChecked(liked)
        self.like.setIcon(icon("heart-filled" if liked else "heart"))
        self.like.setToolTip("Unlike" if liked else "Like")

    def set_volume(self, volume: int) -> None:
        """Show the volume without emitting volume_changed."""
        self.volume.blockSignals(True)
        self.volume.setValue(volume)
        self.volume.blockSignals(False)
        self.mute.setIcon(icon("volume-muted" if volume == 0 else "volume"))

    def set_shuffle(self, on: bool) -> None:
        """Show shuffle on or off without emitting."""
        self.shuffle.blockSignals(True)
        self.shuffle.setChecked(on)
        self.shuffle.blockSignals(False)

    def set_repeat(self, mode: str) -> None:
        """Show a repeat mode without emitting."""
        self._repeat = mode if mode in REPEAT_MODES else "off"
        self.repeat.setChecked(self._repeat != "off")
        self.repeat.setIcon(icon("repeat-one" if self._repeat == "track" else "repeat"))
        self.repeat.setToolTip(f"Repeat: {self._repeat}")

    # -- slots -------------------------------------------------------------------------

    def _on_repeat_clicked(self) -> None:
        mode = REPEAT_MODES[(REPEAT_MODES.index(self._repeat) + 1) % len(REPEAT_MODES)]
        self.set_repeat(mode)
        self.repeat_changed.emit(mode)

    def _on_position_pressed(self) -> None:
        self._seeking = True

    def _on_position_released(self) -> None:
        self._seeking = False
        self.seek.emit(self.position.value())

    def _on_volume_changed(self, value: int) -> None:
        self.mute.setIcon(icon("volume-muted" if value == 0 else "volume"))
        self.volume_changed.emit(value)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


class QueuePanel(QWidget):
    """The play queue: drag to reorder, Delete to remove, a Clear button."""

    remove_rows = Signal(list)
    clear = Signal()
    activate_row = Signal(int)

    def __init__(self, model: QueueModel, settings: QSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queuePanel")
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 10, 8, 0)
        head = QHBoxLayout()
        self.heading = plain_label("Queue", object_name="panelTitle")
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.heading.setFont(font)
        head.addWidget(self.heading)
        head.addStretch(1)
        self.remove_button = _tool("close", "Remove the selected tracks (Delete)", size=16)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.clear_button = _tool("clear", "Clear the queue", size=16)
        self.clear_button.clicked.connect(self.clear)
        head.addWidget(self.remove_button)
        head.addWidget(self.clear_button)
        layout.addLayout(head)
        self.table = TrackTableView(model, "queue", settings, sortable=False,
                                    visible=("title", "artist", "duration"))
        self.table.setObjectName("queueTable")
        self.table.setDragEnabled(True)
        self.table.setAcceptDrops(True)
        self.table.setDropIndicatorShown(True)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.table.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.table.setDragDropOverwriteMode(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        if not self.table.restored:
            self.table.setColumnWidth(model.column_of("title"), 170)
            self.table.setColumnWidth(model.column_of("artist"), 120)
        self.table.play_requested.connect(lambda _ids, row: self.activate_row.emit(row))
        layout.addWidget(self.table, 1)
        shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(self._on_remove_clicked)

    def selected_rows(self) -> list[int]:
        """Return the selected queue positions."""
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def _on_remove_clicked(self) -> None:
        rows = self.selected_rows()
        if rows:
            self.remove_rows.emit(rows)

