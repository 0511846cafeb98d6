"""The lint is part of the test suite: `ruff check` passes on the whole repository, and
mypy on the packages without a screen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    # The rule set lives in pyproject.toml ([tool.ruff.lint]); --no-cache keeps the
    # working tree free of .ruff_cache churn when the suite runs in parallel.
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}{result.stderr}"


def test_mypy_finds_nothing() -> None:
    # player/ and recommender/ (the packages in pyproject.toml's [tool.mypy]): the parts
    # without a screen, whose types the window and the CLI rely on.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600,
        check=False)
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}{result.stderr}"
