"""`timbre analyze`: audio features for every track that lacks them."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from player.cli_common import (
    TerminalProgress,
    add_db_option,
    db_path,
    positive_float,
    positive_int,
    print_json,
)
from player.db import connect
from player.features_store import analysis_errors
from recommender.analysis import TRACK_TIMEOUT_S, AnalysisError, analyze, default_workers


def register(subparsers: Any) -> None:
    """Add the analyze command."""
    parser = subparsers.add_parser(
        "analyze",
        help="analyse the sound of every track not analysed yet",
        description="Analyse the sound of every track that has no features for the current "
        "features version (resumable: finished tracks are never redone).",
    )
    add_db_option(parser)
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help=f"worker processes (default: all cores, here {default_workers()})")
    parser.add_argument("--timeout", type=positive_float, default=TRACK_TIMEOUT_S, metavar="SECONDS",
                        help="time limit per track; a track taking longer is recorded as "
                        f"failed (default: {TRACK_TIMEOUT_S:g})")
    parser.add_argument("--json", action="store_true",
                        help='print {"analyzed", "skipped", "failed", "seconds"} as JSON')
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the analysis with a progress bar on a terminal."""
    progress = TerminalProgress("Analysing", unit="tracks")
    cancel = threading.Event()
    try:
        report = analyze(db_path(args), workers=args.workers, progress=progress, cancel=cancel,
                         timeout_s=args.timeout)
    except AnalysisError as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 1
    finally:  # Ctrl-C included: what was analysed is already stored
        progress.close()
    if args.json:
        print_json({"analyzed": report.analyzed, "skipped": report.skipped,
                    "failed": len(report.failed), "seconds": round(report.seconds, 3)})
    else:
        rate = report.analyzed / report.seconds if report.seconds > 0 else 0.0
        print(f"analysed {report.analyzed} tracks in {report.seconds:.1f} s "
              f"({rate:.1f} tracks/s); {report.skipped} done before (analysed or failed); "
              f"{len(report.failed)} failed")
    paths = _failed_paths(db_path(args), [track_id for track_id, _ in report.failed[:20]])
    for track_id, reason in report.failed[:20]:
        print(f"  {paths.get(track_id, f'track {track_id}')}: {reason}", file=sys.stderr)
    if len(report.failed) > 20:
        print(f"  ... and {len(report.failed) - 20} more", file=sys.stderr)
    return 0


def _failed_paths(path: Path, track_ids: list[int]) -> dict[int, str]:
    """Return the file of each failed track, to name it as the user knows it."""
    if not track_ids:
        return {}
    conn = connect(path)
    try:
        return {e.track_id: e.path for e in analysis_errors(conn, track_ids=track_ids)}
    finally:
        conn.close()
