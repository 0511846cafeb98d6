"""`timbre mix list|show` and `timbre playlist generate --mood|--path|--similar`.

Like cli_engine, this is where the engine meets the SQLite library: the source comes
from player/, and generated playlists are saved through player.playlists.
"""

from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from pathlib import Path

from player.cli_common import add_db_option, open_db, positive_int, print_json
from player.cli_playlists import playlist_subcommands
from player.db import connect
from player.library_source import SqliteLibrarySource
from player.models import TrackId
from player.playlists import PlaylistError, replace_auto_mixes, replace_generated
from recommender.cli_engine import build_engine
from recommender.engine import Engine
from recommender.mixes import Mix, all_mixes
from recommender.picks import Snapshot
from recommender.playlists_gen import (
    MOODS,
    GenerateError,
    mood_playlist,
    path_reason,
    radio_playlist,
    song_path,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `timbre mix` and `timbre playlist generate` to the CLI."""
    mix = sub.add_parser("mix", help="mixes: the library grouped by sound, and your own")
    add_db_option(mix)
    ms = mix.add_subparsers(dest="mix_command", metavar="SUBCOMMAND")
    mix.set_defaults(func=_mix_list, json=False)  # bare `timbre mix`: list
    p = ms.add_parser("list", help="list the mixes (personal ones first)")
    p.add_argument("--json", action="store_true", help="print [{name, reason, kind, tracks}]")
    add_db_option(p)
    p.set_defaults(func=_mix_list)
    p = ms.add_parser("show", help="list one mix's tracks")
    p.add_argument("name", help="the mix's name (or its number in `mix list`)")
    p.add_argument("--json", action="store_true", help="print {name, reason, tracks}")
    p.add_argument("--save", action="store_true", help="also save it as a playlist")
    add_db_option(p)
    p.set_defaults(func=_mix_show)

    p = playlist_subcommands(sub).add_parser(
        "generate", help="generate and save a playlist: a mood, a song path or a radio",
        description="Generate a playlist and save it (replacing an older generated playlist "
        f"of the same name). Moods: {', '.join(f'{m.name} ({m.defined_by})' for m in MOODS.values())}.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--mood", choices=list(MOODS), help="a mood or energy playlist")
    what.add_argument("--path", nargs=2, metavar=("A", "B"),
                      help="a song path from track A to track B (ids or file paths)")
    what.add_argument("--similar", metavar="TRACK", help="a radio seeded by TRACK")
    p.add_argument("-n", type=positive_int, default=None,
                   help="how many tracks (default 30; a path counts both ends, default 10)")
    p.add_argument("--name", default=None, help="the playlist's name")
    p.add_argument("--no-save", action="store_true", help="only print it")
    p.add_argument("--json", action="store_true", help="print {name, reason, tracks}")
    add_db_option(p)
    p.set_defaults(func=_generate)


def _plain(text: str | None) -> str:
    """Return tag text safe for a terminal (control characters removed)."""
    return "".join(c for c in (text or "") if unicodedata.category(c)[0] != "C")


def _track_json(snap: Snapshot, ids: list[TrackId]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for tid, row in zip(ids, snap.sim.rows_of([int(t) for t in ids]).tolist(), strict=True):
        t = snap.track(int(row)) if row >= 0 else None
        out.append({"id": int(tid), "artist": t.artist if t else None,
                    "title": t.title if t else None, "album": t.album if t else None,
                    "duration_s": t.duration_s if t else None})
    return out


def _engine(args: argparse.Namespace) -> tuple[Engine, SqliteLibrarySource]:
    source = SqliteLibrarySource(open_db(args))
    return Engine(source), source


def refresh_mixes(db: Path, *, progress: object = None, cancel: object = None) -> int:
    """Recompute the mixes of a library and save them as its automatic playlists.

    The window runs this as a background job after analysis and as the history grows;
    returns how many mixes were saved.
    """
    conn = connect(db)
    snap = build_engine(conn, db).snapshot()
    mixes = all_mixes(snap, time.time())
    return len(replace_auto_mixes(conn, [(m.name, m.tracks, m.reason) for m in mixes]))


def _mixes(args: argparse.Namespace) -> tuple[Snapshot, list[Mix]]:
    engine, _ = _engine(args)
    snap = engine.snapshot()
    return snap, all_mixes(snap, time.time())


def _mix_list(args: argparse.Namespace) -> int:
    snap, mixes = _mixes(args)
    if args.json:
        print_json([{"name": m.name, "reason": m.reason, "kind": m.kind,
                     "tracks": _track_json(snap, m.tracks)} for m in mixes])
        return 0
    if not mixes:
        print("no mixes yet: scan and analyse some music first (timbre scan, timbre analyze)")
    for i, m in enumerate(mixes, start=1):
        print(f"{i:>3}. {_plain(m.name)}  ({len(m.tracks)} tracks)\n     {_plain(m.reason)}")
    return 0


def _mix_show(args: argparse.Namespace) -> int:
    snap, mixes = _mixes(args)
    ref = args.name.strip()
    found = [m for m in mixes if m.name.casefold() == ref.casefold()]
    if not found and ref.isdigit() and 0 < int(ref) <= len(mixes):
        found = [mixes[int(ref) - 1]]
    if not found:
        print(f"timbre: no mix called {ref!r} (see `timbre mix list`)", file=sys.stderr)
        return 1
    mix = found[0]
    if args.save:
        _save(args, mix.name, mix.tracks, mix.reason)
    _print(snap, mix.name, mix.reason, mix.tracks, args.json)
    return 0


def _print(snap: Snapshot, name: str, reason: str, ids: list[TrackId], as_json: bool) -> None:
    tracks = _track_json(snap, ids)
    if as_json:
        print_json({"name": name, "reason": reason, "tracks": tracks})
        return
    print(f"{_plain(name)}: {_plain(reason)}")
    for i, t in enumerate(tracks, start=1):
        print(f"{i:>4}. [{t['id']}] {_plain(str(t['artist'] or '?'))} - {_plain(str(t['title']))}")


def _save(args: argparse.Namespace, name: str, ids: list[TrackId], reason: str) -> bool:
    try:
        replace_generated(open_db(args), name, ids, reason)
    except PlaylistError as exc:
        print(f"timbre: not saved: {exc}", file=sys.stderr)
        return False
    return True


def _library_track(source: SqliteLibrarySource, ref: str) -> TrackId:
    """Return the library track ref names; GenerateError saying why when there is none."""
    track = source.find_track(ref)
    if track is None:
        raise GenerateError(source.no_track_reason(ref))
    gone = source.missing_reason(track)
    if gone:
        raise GenerateError(gone)
    return track


def _generate(args: argparse.Namespace) -> int:
    engine, source = _engine(args)
    snap = engine.snapshot()
    asked = args.n or (10 if args.path else 30)
    try:
        if args.mood:
            ids, reason = mood_playlist(snap, args.mood, asked)
            name = args.name or args.mood.capitalize()
        elif args.path:
            ends = [_library_track(source, ref) for ref in args.path]
            a, b = ends
            ids = song_path(snap, a, b, asked)
            reason = path_reason(snap, a, b, len(ids))
            name = args.name or f"Path {a} to {b}"
        else:
            seed = _library_track(source, args.similar)
            picks = engine.radio([seed]).next(asked - 1)
            ids = radio_playlist([p.track_id for p in picks], seed)
            track = engine.track(seed)
            reason = f"A radio seeded by {_plain(track.title) if track else seed}"
            name = args.name or f"Radio: {_plain(track.title) if track else seed}"
    except GenerateError as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 1
    if not ids:
        print("timbre: nothing fits; analyse more of the library (timbre analyze)", file=sys.stderr)
        return 1
    if not args.no_save and not _save(args, name, ids, reason):
        return 1
    _print(snap, name, reason, ids, args.json)
    if len(ids) < asked and not args.json:
        print(f"note: {len(ids)} tracks, not {asked}: no more of the library fits",
              file=sys.stderr)
    return 0
