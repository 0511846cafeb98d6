"""Library commands: scan, library, errors, search."""

from __future__ import annotations

import argparse
import os
import sys
from threading import Event

from player.cli_common import (
    TerminalProgress,
    add_db_option,
    db_path,
    format_duration,
    open_db,
    positive_int,
    print_json,
)
from player.features_store import analysis_errors
from player.library import (
    add_root,
    find_root,
    list_roots,
    remove_root,
    scan_errors,
    search,
    track_rows,
)
from player.scanner import ScanReport, scan


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the library subcommands to the `timbre` parser."""
    p = sub.add_parser("scan", help="add folders to the library and scan them; "
                       "without a folder, rescan the library's folders")
    p.add_argument("paths", nargs="*", metavar="PATH", help="music folders to add and scan")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="tag-reading processes (default: 1, or 2 for large scans)")
    p.add_argument("--remove", nargs="+", metavar="PATH", default=None,
                   help="take these folders out of the library instead (files are not "
                        "touched; listening history, likes and playlists are kept)")
    add_db_option(p)
    p.set_defaults(func=_scan)

    p = sub.add_parser("library", help="list every track")
    p.add_argument("--json", action="store_true", help="print a JSON list of tracks")
    p.add_argument("--all", action="store_true",
                   help="also list the tracks of unmounted or removed folders (missing: 1)")
    add_db_option(p)
    p.set_defaults(func=_library)

    p = sub.add_parser("errors", help="list the files the scan could not read or the "
                       "analysis could not decode",
                       description="List the files the scan could not read (not audio, "
                       "damaged tags) and the tracks whose sound could not be analysed "
                       "(a truncated file, silence), each with the reason.")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_db_option(p)
    p.set_defaults(func=_errors)

    p = sub.add_parser("search", help="find tracks by title, artist, album, genre, composer")
    p.add_argument("query", nargs="+", metavar="QUERY")
    p.add_argument("--limit", type=positive_int, default=200, metavar="N")
    p.add_argument("--json", action="store_true", help="print the matching tracks as JSON")
    add_db_option(p)
    p.set_defaults(func=_search)


def _scan(args: argparse.Namespace) -> int:
    if args.remove:
        return _remove_folders(args)
    path = db_path(args)
    for folder in args.paths:
        if not os.path.isdir(folder):
            print(f"timbre: {folder} is not a folder; nothing was added", file=sys.stderr)
            return 2
    conn = open_db(args)
    try:
        if args.paths:
            for folder in args.paths:
                add_root(conn, folder)
            roots: list[str] | None = list(args.paths)
        else:
            if not list_roots(conn):
                print("timbre: the library has no folders yet: timbre scan FOLDER...",
                      file=sys.stderr)
                return 2
            roots = None
    finally:
        conn.close()
    progress = TerminalProgress("Scanning")
    cancel = Event()
    try:
        report = scan(roots, path, progress=progress, cancel=cancel, workers=args.workers)
    finally:
        progress.close()
    if args.json:
        print_json(report.summary())
    else:
        _print_report(report)
    return 0


def _remove_folders(args: argparse.Namespace) -> int:
    if args.paths:
        print("timbre: scan --remove takes no folders to add", file=sys.stderr)
        return 2
    conn = open_db(args)
    try:
        ids = [(folder, find_root(conn, folder)) for folder in args.remove]
        unknown = [folder for folder, rid in ids if rid is None]
        if unknown:  # checked first: nothing is removed when one folder is wrong
            known = ", ".join(r.path for r in list_roots(conn)) or "none"
            print(f"timbre: not a library folder: {', '.join(unknown)} (folders: {known})",
                  file=sys.stderr)
            return 2
        results = [(folder, remove_root(conn, rid)) for folder, rid in ids if rid is not None]
    finally:
        conn.close()
    for folder, n in results:
        print(f"removed {folder}: {n} tracks left the library (history kept)")
    return 0


def _print_report(report: ScanReport) -> None:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.moved} moved",
             f"{report.removed} removed", f"{report.unchanged} unchanged",
             f"{report.failed} failed"]
    took = (f"{report.seconds:.2f} s" if report.seconds < 60
            else format_duration(report.seconds))
    print(f"{', '.join(parts)} in {took}")
    for root in report.missing_roots:
        print(f"warning: {root} is missing or not mounted; its tracks were kept",
              file=sys.stderr)
    if report.failed:
        print("see `timbre errors` for the files that could not be read", file=sys.stderr)
    if report.cancelled:
        print("the scan was cancelled; run it again to continue", file=sys.stderr)


def _library(args: argparse.Namespace) -> int:
    conn = open_db(args)
    try:
        rows = [r for r in track_rows(conn) if args.all or not r["missing"]]
    finally:
        conn.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("the library is empty: add a music folder with `timbre scan FOLDER`",
              file=sys.stderr)
    for row in rows:
        who = row["artist"] or "Unknown artist"
        length = format_duration(row["duration_s"]) if row["duration_s"] else "?"
        away = "  (not available: its folder is unmounted or removed)" if row["missing"] else ""
        print(f"{row['id']:>6}  {who} - {row['title']}  [{row['album'] or ''}]  {length}{away}")
    return 0


def _errors(args: argparse.Namespace) -> int:
    conn = open_db(args)
    try:
        rows = [{"path": r["path"], "reason": r["reason"], "stage": "scan"}
                for r in scan_errors(conn)]
        rows += [{"path": e.path, "reason": e.reason, "stage": "analysis"}
                 for e in sorted(analysis_errors(conn), key=lambda e: e.path)]
    finally:
        conn.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no unreadable files: every file the scans met was read and analysed",
              file=sys.stderr)
    for r in rows:
        said = r["reason"] if r["stage"] == "scan" else f"could not analyse: {r['reason']}"
        print(f"{r['path']}: {said}")
    return 0


def _search(args: argparse.Namespace) -> int:
    conn = open_db(args)
    try:
        ids = search(conn, " ".join(args.query), limit=args.limit)
        rows = track_rows(conn, ids)
    finally:
        conn.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no track matches {' '.join(args.query)!r}", file=sys.stderr)
    for row in rows:
        print(f"{row['id']:>6}  {row['artist'] or 'Unknown artist'} - {row['title']}"
              f"  [{row['album'] or ''}]")
    return 0
