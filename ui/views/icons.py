"""Icons: the desktop theme's when it has them, else bundled SVGs tinted to the palette."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QLinearGradient, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
ICONS = RESOURCES / "icons"
APP_ICON = RESOURCES / "timbre.svg"

# Our icon name -> the freedesktop theme name tried first.
THEME_NAMES = {
    "play": "media-playback-start", "pause": "media-playback-pause",
    "next": "media-skip-forward", "previous": "media-skip-backward",
    "shuffle": "media-playlist-shuffle", "repeat": "media-playlist-repeat",
    "repeat-one": "media-playlist-repeat-song", "volume": "audio-volume-high",
    "volume-muted": "audio-volume-muted", "search": "edit-find", "folder": "folder-music",
    "add": "list-add", "clear": "edit-clear-all", "refresh": "view-refresh",
    "close": "window-close", "history": "document-open-recent",
}


def _tinted_svg(name: str, color: QColor, size: int) -> QPixmap:
    data = (ICONS / f"{name}.svg").read_text(encoding="utf-8")
    data = data.replace('"#000"', f'"{color.name()}"')
    renderer = QSvgRenderer(QByteArray(data.encode()))
    ratio = 2  # render at twice the size: crisp on high-DPI screens
    pix = QPixmap(size * ratio, size * ratio)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    renderer.render(painter, QRectF(0, 0, size * ratio, size * ratio))
    painter.end()
    pix.setDevicePixelRatio(ratio)
    return pix


@cache
def _bundled(name: str, text_rgb: int, disabled_rgb: int) -> QIcon:
    icon = QIcon()
    for size in (16, 24, 32):
        icon.addPixmap(_tinted_svg(name, QColor.fromRgb(text_rgb), size), QIcon.Mode.Normal)
        icon.addPixmap(_tinted_svg(name, QColor.fromRgb(disabled_rgb), size),
                       QIcon.Mode.Disabled)
    return icon


def icon(name: str) -> QIcon:
    """Return the named icon: from the theme if it has it, else ours in the text colour."""
    theme = THEME_NAMES.get(name)
    if theme and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme)
    palette = QApplication.palette()
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    return _bundled(name, text.rgb(), disabled.rgb())


def app_icon() -> QIcon:
    """Return Timbre's own icon."""
    return QIcon(str(APP_ICON))


@cache
def placeholder_cover(seed: str, size: int = 160) -> QIcon:
    """Return a cover for an album without art: a gradient in a colour drawn from its name."""
    digest = hashlib.sha1(seed.encode("utf-8", "surrogatepass")).digest()
    hue = digest[0] * 360 // 256
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    gradient = QLinearGradient(0, 0, size, size)
    gradient.setColorAt(0, QColor.fromHsv(hue, 110, 190))
    gradient.setColorAt(1, QColor.fromHsv((hue + 40) % 360, 160, 110))
    painter.setBrush(gradient)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(0, 0, size, size, 10, 10)
    note = _tinted_svg("music", QColor(255, 255, 255, 200), size // 2)
    painter.setOpacity(0.75)
    painter.drawPixmap(size // 4, size // 4, note)
    painter.end()
    return QIcon(QPixmap.fromImage(image))


def rounded(image: QImage, size: QSize, radius: float = 8.0) -> QPixmap:
    """Return image scaled to cover size, with rounded corners."""
    scaled = image.scaled(size, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                          Qt.TransformationMode.SmoothTransformation)
    out = QPixmap(size)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QPixmap.fromImage(scaled))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(QRectF(0, 0, size.width(), size.height()), radius, radius)
    painter.end()
    return out
