"""Timbre's entry point: a CLI command when one is given, else the window."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run `timbre`: the CLI command given, or the desktop window."""
    from ui.cli import run

    code = run(argv)
    if code is not None:
        return code
    print("timbre: the window is not built yet; see `timbre --help` for the commands.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
