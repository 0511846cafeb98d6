"""`timbre similar`, `foryou`, `like`, `ban`, `not-this`, `less-like-this`.

This module is where the engine meets the SQLite library: it builds the source from
player/ and hands it to the engine, which itself never sees SQL.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sqlite3
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from player import feedback as fb
from player.cli_common import (
    add_db_option,
    db_path,
    float_between,
    open_db,
    positive_int,
    print_json,
)
from player.features_store import analysis_errors
from player.library_source import SqliteLibrarySource
from player.models import Track, TrackId
from recommender.engine import Engine, default_features_version
from recommender.explain import describe
from recommender.foryou import BadLike, parse_likes
from recommender.picks import Pick, credited_artists
from recommender.similarity import normalise_text
from recommender.taste import TasteModel, model_path_for


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the recommendation commands to the CLI."""
    p = sub.add_parser("similar", help="tracks similar to one or more tracks (several = a radio)")
    p.add_argument("tracks", nargs="+", metavar="TRACK", help="a track id or file path")
    p.add_argument("-n", type=positive_int, default=20, help="how many tracks (default 20)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    add_db_option(p)
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("foryou", help="the For you queue: favourites, rediscoveries, discoveries")
    p.add_argument("-n", type=positive_int, default=20, help="how many tracks (default 20)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--like", action="append", default=[], metavar="FIELD:VALUE",
                   help='what you like, for a start: "genre:jazz", "artist:NAME", "mood:calm" '
                        "(repeatable)")
    p.add_argument("--adventurous", type=float_between(0.0, 1.0), default=0.3, metavar="X",
                   help="0 = familiar favourites .. 1 = mostly new discoveries (default 0.3)")
    add_db_option(p)
    p.set_defaults(func=cmd_foryou)

    p = sub.add_parser("like", help="like a track (a strong positive signal)")
    p.add_argument("track", metavar="TRACK")
    p.add_argument("--undo", action="store_true", help="remove the like")
    add_db_option(p)
    p.set_defaults(func=cmd_like)

    p = sub.add_parser("ban", help="never recommend a track or an artist")
    p.add_argument("track", nargs="?", metavar="TRACK")
    p.add_argument("--artist", metavar="NAME", help="ban an artist instead of a track")
    p.add_argument("--undo", action="store_true", help="lift the ban")
    add_db_option(p)
    p.set_defaults(func=cmd_ban)

    for name, kind, text in (
        ("not-this", fb.NOT_THIS, "lower a track and its close neighbours"),
        ("less-like-this", fb.LESS_LIKE_THIS, "recommend fewer tracks like this one"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("track", metavar="TRACK")
        add_db_option(p)
        p.set_defaults(func=cmd_feedback, kind=kind)


def _plain(text: str | None) -> str:
    """Return tag text safe for a terminal: control characters (escapes) removed."""
    return "".join(c for c in (text or "") if unicodedata.category(c)[0] != "C")


def load_taste(db: Path, features_version: int) -> TasteModel | None:
    """Return the saved taste model of a database, or None (For you works without one).

    A model file others could have written is refused (unpickling runs code): said on
    stderr, and For you goes on without it.
    """
    try:
        return TasteModel.load(model_path_for(db), features_version)
    except PermissionError as exc:
        print(f"timbre: {exc}; For you goes without the taste model", file=sys.stderr)
        return None


def build_engine(conn: sqlite3.Connection, db: Path) -> Engine:
    """Return the engine over an open library, with its saved taste model when usable."""
    version = default_features_version()
    return Engine(SqliteLibrarySource(conn), version, taste=load_taste(db, version))


def _resolve(source: SqliteLibrarySource, refs: Sequence[str]) -> list[TrackId] | None:
    ids = []
    for ref in refs:
        tid = source.find_track(ref)
        if tid is None:
            print(f"timbre: {source.no_track_reason(ref)}", file=sys.stderr)
            return None
        ids.append(tid)
    return ids


def _print_picks(engine: Engine, picks: list[Pick], as_json: bool, by_kind: bool = False) -> None:
    """Print picks as text or JSON. by_kind: the text shows each pick's kind (For you:
    a favourite's score and a discovery's are on different scales), not its score."""
    rows: list[dict[str, Any]] = []
    for p in picks:
        t = engine.track(p.track_id)
        rows.append({
            "id": int(p.track_id), "path": t.path if t else None,
            "title": t.title if t else None, "artist": t.artist if t else None,
            "score": round(p.score, 4), "why": p.why, "kind": p.kind,
        })
    if as_json:
        print_json(rows)
        return
    if not rows:
        print("Nothing to recommend yet: scan a folder (timbre scan) and analyse it.")
        return
    for i, r in enumerate(rows, start=1):
        who = _plain(r["artist"]) or "unknown artist"
        mark = r["kind"] if by_kind else f"{r['score']:.2f}"
        print(f"{i:>3}. {who} \u2014 {_plain(r['title'])}  [{r['id']}]  {mark}")
        print(f"     {_plain(r['why'])}")


def cmd_similar(args: argparse.Namespace) -> int:
    """Print tracks similar to the given ones."""
    conn = open_db(args)
    source = SqliteLibrarySource(conn)
    ids = _resolve(source, args.tracks)
    if ids is None:
        return 1
    gone = [why for why in map(source.missing_reason, ids) if why]
    if len(gone) == len(ids):  # some seeds left: the radio goes on from the others
        print(f"timbre: {gone[0]}", file=sys.stderr)
        return 1
    engine = Engine(source)
    picks = engine.similar(ids, max(1, args.n))
    if not picks and not args.json:
        sim = engine.snapshot().sim
        rows = sim.rows_of([int(t) for t in ids])
        rows = rows[rows >= 0]
        if not (sim.has_audio_[rows] | sim.has_meta_[rows]).any():
            # no sound and no tags: nothing says what the seeds are like
            print(f"Nothing to go on: {_unknown_sound(conn, ids)}.")
            return 0
    _print_picks(engine, picks, args.json)
    return 0


def _unknown_sound(conn: sqlite3.Connection, ids: Sequence[TrackId]) -> str:
    """Say why tracks have nothing to be compared by: no tags, and their sound unknown."""
    failed = [e.reason for e in analysis_errors(conn, track_ids=ids)]
    if len(ids) == 1:
        sound = (f"its sound could not be analysed ({failed[0]})" if failed
                 else "its sound is not analysed yet (`timbre analyze`)")
        return f"the track has no artist, genre, composer or year, and {sound}"
    return ("the tracks have no artist, genre, composer or year, and none of their sounds "
            "is analysed")


def cmd_foryou(args: argparse.Namespace) -> int:
    """Print the For you queue."""
    engine = build_engine(open_db(args), db_path(args))
    try:
        picks = engine.for_you(max(1, args.n), args.adventurous, args.like)
    except BadLike as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 2
    if not picks and args.like and not args.json:
        snap = engine.snapshot()
        unmatched = [label for label, rows in parse_likes(snap, args.like) if not rows.size]
        if unmatched:
            genres = sorted({tok.split(":", 1)[1] for tok in snap.sim.vocab_
                             if tok.startswith("genre:")})
            known = f"; its genres: {', '.join(genres[:12])}" if genres else ""
            print(f"Nothing matches {' or '.join(unmatched)} in the library{known}.")
            return 0
    _print_picks(engine, picks, args.json, by_kind=True)
    if not args.json and not args.like and picks and all(p.kind == "start" for p in picks):
        print("(no listening history yet: say what you like with --like genre:NAME, "
              "--like artist:NAME or --like mood:calm)", file=sys.stderr)
    return 0


def _one_track(conn: sqlite3.Connection, ref: str) -> TrackId | None:
    """Return the library track a command names (id or path), or None (said on stderr)."""
    ids = _resolve(SqliteLibrarySource(conn), [ref])
    return None if ids is None else ids[0]


def _named(conn: sqlite3.Connection, tid: TrackId) -> str:
    """Return '“Title” by Artist (track N)' for a message: the user sees what was meant."""
    row = conn.execute("SELECT title, artist FROM tracks WHERE id = ?", (int(tid),)).fetchone()
    track = Track(id=tid, path="", title=row[0], artist=row[1]) if row else None
    return f"{_plain(describe(track))} (track {int(tid)})"


def cmd_like(args: argparse.Namespace) -> int:
    """Like (or unlike) a track."""
    conn = open_db(args)
    tid = _one_track(conn, args.track)
    if tid is None:
        return 1
    if args.undo:
        fb.unlike(conn, tid)
        print(f"Removed the like of {_named(conn, tid)}.")
    else:
        fb.like(conn, tid)
        print(f"Liked {_named(conn, tid)}.")
    return 0


def cmd_ban(args: argparse.Namespace) -> int:
    """Ban (or unban) a track or an artist."""
    conn = open_db(args)
    if bool(args.artist) == bool(args.track):
        print("timbre: give either a TRACK or --artist NAME", file=sys.stderr)
        return 2
    if args.artist:
        if args.undo:
            fb.unban_artist(conn, args.artist)
            print(f"Lifted the ban on {_plain(args.artist)}.")
        else:
            try:
                fb.ban_artist(conn, args.artist)
            except ValueError as exc:
                print(f"timbre: {exc}", file=sys.stderr)
                return 2
            name = _library_spelling(conn, args.artist)
            print(f"Banned the artist {_plain(name)}: never recommended again.")
        return 0
    tid = _one_track(conn, args.track)
    if tid is None:
        return 1
    if args.undo:
        fb.unban_track(conn, tid)
        print(f"Lifted the ban on {_named(conn, tid)}.")
    else:
        fb.ban_track(conn, tid)
        print(f"Banned {_named(conn, tid)}: never recommended again.")
    return 0


def _library_spelling(conn: sqlite3.Connection, name: str) -> str:
    """Return a banned artist's name as the library tags it; when no library track is by
    them (a typo bans nothing today), say so on stderr with the closest names there."""
    names: dict[str, str] = {}  # normalised -> as tagged
    for artist, albumartist, artists in conn.execute(
            "SELECT DISTINCT artist, albumartist, artists FROM tracks WHERE missing = 0"):
        listed = [a for a in (json.loads(artists) if artists else []) if isinstance(a, str)]
        for part in credited_artists(artist, albumartist, listed):
            names.setdefault(normalise_text(part), part)
    wanted = normalise_text(name)
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(_plain(names[c]) for c in close)}?" if close else ""
    print(f"note: no track in the library is by {_plain(name)} yet (the ban holds for tracks "
          f"added later){hint}", file=sys.stderr)
    return " ".join(name.split())


def cmd_feedback(args: argparse.Namespace) -> int:
    """Record "not this" or "less like this"."""
    conn = open_db(args)
    tid = _one_track(conn, args.track)
    if tid is None:
        return 1
    fb.add_feedback(conn, tid, args.kind)
    what = (f"{_named(conn, tid)} and its close neighbours" if args.kind == fb.NOT_THIS
            else f"tracks like {_named(conn, tid)}")
    print(f"Noted: {what} will come up less.")
    return 0
