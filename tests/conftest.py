"""Shared fixtures. Qt runs offscreen: set before any Qt import so no test needs a display."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# BLAS threads oversubscribe a 2-core machine when tests run in parallel.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
import sys  # noqa: E402

# One numba cache for the whole run (the per-test XDG dirs would each recompile librosa's
# kernels, ~18 s a time); recommender.features warms it under a lock.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(sys.prefix, "numba-cache"))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh database path in tmp_path, also set as TIMBRE_DB for CLI calls."""
    path = tmp_path / "library.db"
    monkeypatch.setenv("TIMBRE_DB", str(path))
    return path


@pytest.fixture(autouse=True)
def _isolated_xdg(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real user's data, cache and config dirs."""
    home = tmp_path_factory.mktemp("xdg")
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_MUSIC_DIR"):
        monkeypatch.setenv(var, str(home / var.lower()))
