"""Load cover thumbnails off the GUI thread."""

from __future__ import annotations

import logging
import queue

from PySide6.QtCore import QObject, QSize, Qt, QThread, Signal
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)


class CoverLoader(QThread):
    """Reads and scales cover images on its own thread; `loaded` arrives on the GUI thread.

    QImage (unlike QPixmap) may be used off the GUI thread, so the thread decodes and
    scales, and the GUI only wraps the result in a pixmap.
    """

    loaded = Signal(str, QImage)  # key, image scaled to the requested size

    def __init__(self, size: QSize, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._closed = False

    def request(self, key: str, path: str) -> None:
        """Queue one image to load; start the thread on first use."""
        if self._closed:
            return
        self._queue.put((key, path))
        if not self.isRunning():
            self.start(QThread.Priority.LowPriority)

    def stop(self) -> None:
        """End the thread (pending requests are dropped); no request starts it again."""
        self._closed = True
        if self.isRunning():
            self._queue.put(None)
            self.wait(5000)

    def run(self) -> None:  # the loader thread
        while True:
            item = self._queue.get()
            if item is None:
                return
            key, path = item
            image = QImage(path)
            if image.isNull():  # a missing or corrupt cache file: keep the placeholder
                log.info("cover %s unreadable", path)
                continue
            scaled = image.scaled(self._size, Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                                  Qt.TransformationMode.SmoothTransformation)
            self.loaded.emit(key, scaled)
