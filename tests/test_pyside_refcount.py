"""PySide6 6.12.0 on Python 3.11 decrements None's refcount on every void method call and
the interpreter aborts after ~5,000 calls; pyproject pins <6.12. This guards the pin."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel


def test_void_calls_keep_none_refcount(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for i in range(20_000):
        label.setText("x" if i % 2 else "y")
    after = sys.getrefcount(None)
    assert after >= before - 100, f"None refcount fell from {before} to {after}"
