"""The Properties dialog: every tag, the file's details, the audio features and the stats."""

from __future__ import annotations

import time

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from player.browse import TrackDetail
from ui.models import format_duration
from ui.views.pages import plain_label, title_label

_TIME_KEYS = {"added_at", "updated_at", "analyzed_at", "first_played", "last_played"}
_LABELS = {
    "albumartist": "album artist", "tracknumber": "track", "tracktotal": "tracks",
    "discnumber": "disc", "disctotal": "discs", "mb_recording_id": "MusicBrainz recording",
    "mb_release_id": "MusicBrainz release", "mb_artist_id": "MusicBrainz artist",
    "rg_track_gain": "ReplayGain track gain", "rg_track_peak": "ReplayGain track peak",
    "rg_album_gain": "ReplayGain album gain", "rg_album_peak": "ReplayGain album peak",
    "duration_s": "duration", "sample_rate": "sample rate", "mtime_ns": "modified",
    "cover_hash": "cover", "added_at": "added", "updated_at": "updated",
    "tempo_bpm": "tempo (BPM)", "loudness_db": "loudness (dB)",
    "dynamic_range_db": "dynamic range (dB)", "analyzed_at": "analysed",
    "play_count": "plays", "skip_count": "skips", "heard_ms": "time heard",
    "first_played": "first played", "last_played": "last played",
}


def _format(key: str, value: object) -> str:
    if value is None:
        return ""
    if key in _TIME_KEYS and isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
    if key == "mtime_ns" and isinstance(value, int):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(value / 1e9))
    if key == "duration_s" and isinstance(value, (int, float)):
        return format_duration(value)
    if key == "heard_ms" and isinstance(value, (int, float)):
        return format_duration(value / 1000)
    if key == "size" and isinstance(value, int):
        return f"{value / 1e6:.1f} MB ({value:,} bytes)"
    if key == "bitrate" and isinstance(value, int):
        return f"{value // 1000} kb/s"
    if key in ("rg_track_gain", "rg_album_gain") and isinstance(value, float):
        return f"{value:+.2f} dB"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, bool) or key in ("missing", "compilation", "liked"):
        return "yes" if value else "no"
    return str(value)


def _table(values: dict[str, object]) -> QTableWidget:
    table = QTableWidget(len(values), 2)
    table.setHorizontalHeaderLabels(["Field", "Value"])
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(True)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    for row, (key, value) in enumerate(values.items()):
        # QTableWidgetItem text is drawn as plain text: tags cannot inject markup here.
        table.setItem(row, 0, QTableWidgetItem(_LABELS.get(key, key)))
        table.setItem(row, 1, QTableWidgetItem(_format(key, value)))
    return table


class PropertiesDialog(QDialog):
    """Shows one track's details in tabs."""

    def __init__(self, detail: TrackDetail, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Properties")
        self.resize(560, 520)
        layout = QVBoxLayout(self)
        title = str(detail.tags.get("title", ""))
        heading = title_label(title)
        heading.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(plain_label(str(detail.tags.get("artist", ""))))
        tabs = QTabWidget()
        tabs.addTab(_table(detail.tags), "Tags")
        tabs.addTab(_table(detail.file), "File")
        if detail.features:
            tabs.addTab(_table(detail.features), "Audio features")
        else:
            note = plain_label("Not analysed yet.")
            tabs.addTab(note, "Audio features")
        tabs.addTab(_table(detail.stats), "Listening")
        layout.addWidget(tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.tabs = tabs
