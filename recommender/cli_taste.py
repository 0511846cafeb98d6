"""`timbre model status|train` (the taste model, the learned sound space) and `timbre autotag`.

Like recommender/cli_engine.py, this is where the recommender meets the SQLite library:
the source comes from player/, the models never see SQL.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from player import suggestions_store as store
from player.cli_common import add_db_option, db_path, float_between, open_db, print_json
from player.db import connect
from player.library_source import SqliteLibrarySource
from player.models import TrackId
from recommender import autotag
from recommender.metric import MIN_GENRES, MIN_PER_GENRE
from recommender.similarity import ContentSimilarity
from recommender.taste import (
    MIN_PLAYS,
    TasteModel,
    current_features,
    model_path_for,
    play_label,
    taste_data,
    train_or_update,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `model` and `autotag` to the CLI."""
    model = sub.add_parser("model", help="the learned taste model (status, train)")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION")
    model.set_defaults(func=cmd_status, json=False)  # bare `timbre model`: status
    p = msub.add_parser("status", help="is it trained, on how many plays, does it count")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_option(p)
    p.set_defaults(func=cmd_status)
    p = msub.add_parser("train", help="learn the new plays (or train from scratch)")
    p.add_argument("--retrain", action="store_true", help="start from scratch")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_option(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "autotag", help="suggest genre and mood for untagged tracks (files untouched)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--min-confidence", type=float_between(0.0, 1.0),
                   default=autotag.MIN_CONFIDENCE, metavar="P",
                   help=f"keep suggestions at least this sure (default {autotag.MIN_CONFIDENCE})")
    p.add_argument("--accept", nargs=3, metavar=("TRACK", "FIELD", "VALUE"),
                   help="write one suggestion into the file (the only way a file changes)")
    add_db_option(p)
    p.set_defaults(func=cmd_autotag)


def _status_text(status: dict[str, Any]) -> str:
    if not status["trained"]:
        plays = int(status.get("labelled_plays", 0))
        then = ("Run `timbre model train`." if plays >= MIN_PLAYS
                else "Listen on: the window trains it once there are enough.")
        return (f"Taste model: not trained ({plays} finished or skipped plays of analysed "
                f"tracks; {MIN_PLAYS} needed). {then}")
    lines = [(f"Taste model: trained on {status['n_plays']} plays, features version "
              f"{status['features_version']}.")]
    if status.get("auc") is None:
        lines.append(f"Held-out check: {status['why']}; it does not count yet.")
    else:
        lines.append(
            f"Held-out check on the {status['n_holdout']} most recent plays: AUC "
            f"{status['auc']:.3f} against {status['baseline_auc']:.3f} for the "
            f"{status['baseline']}.")
        lines.append("It counts in For you." if status["counts"]
                     else f"It does not count in For you ({status['why']}).")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    """Print whether the taste model is trained and whether it beats the baselines."""
    version, _ = current_features()
    path = model_path_for(db_path(args))
    try:
        model = TasteModel.load(path, version)
    except PermissionError as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 2
    if model is not None:
        status = model.status()
    else:
        data = taste_data(SqliteLibrarySource(open_db(args)), version)
        status = {"trained": False, "features_version": version, "n_plays": 0,
                  "labelled_plays": sum(1 for p in data.plays if p.track_id in data.features
                                        and play_label(p, data.liked, data.banned) is not None),
                  "counts": False}
    status["path"] = str(path)
    status["sound_space"] = _sound_space(open_db(args), version)
    if args.json:
        print_json(status)
    else:
        print(_status_text(status))
        print(_sound_space_text(status["sound_space"]))
    return 0


def _sound_space(conn: sqlite3.Connection, version: int) -> dict[str, Any]:
    """Return whether Play similar's sound space is learned from the genre tags, and why."""
    source = SqliteLibrarySource(conn)  # the content index alone: no history to fit
    metric = ContentSimilarity().fit(source.tracks(), source.feature_matrix(version)).metric_
    if metric is None:
        return {"learned": False}
    return {"learned": True, "genres": list(metric.genres), "tracks": metric.tracks,
            "heldout_precision_before": round(metric.precision_before, 4),
            "heldout_precision_after": round(metric.precision_after, 4)}


def _sound_space_text(space: dict[str, Any]) -> str:
    if not space["learned"]:
        return (f"Sound space: not learned from the genre tags (it needs {MIN_GENRES} genres with "
                f"{MIN_PER_GENRE} analysed tracks each, whose tags follow the sound).")
    return (f"Sound space: learned from the genre tags of {space['tracks']} tracks "
            f"({len(space['genres'])} genres); same-genre neighbours of held-out tracks "
            f"{space['heldout_precision_before']:.2f} -> {space['heldout_precision_after']:.2f}.")


def train(db: Path, *, retrain: bool = False, progress: object = None,
          cancel: object = None) -> tuple[TasteModel, str]:
    """Train the taste model of a library, or learn its plays since the last time.

    The window runs this as a background job (progress and cancel are accepted for
    JobThread and unused: training takes seconds). Raises ValueError when there is not
    enough history, PermissionError for a model file others could have written.
    """
    version, names = current_features()
    data = taste_data(SqliteLibrarySource(connect(db)), version)
    return train_or_update(data, model_path_for(db), features_version=version,
                           feature_names=names, retrain=retrain)


def cmd_train(args: argparse.Namespace) -> int:
    """Train the taste model from scratch or learn the plays since the last time."""
    try:
        model, done = train(db_path(args), retrain=args.retrain)
    except (ValueError, PermissionError) as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 1
    status = model.status() | {"done": done}
    if args.json:
        print_json(status)
    else:
        print(f"Taste model {done}.")
        print(_status_text(status))
    return 0


def cmd_autotag(args: argparse.Namespace) -> int:
    """Store genre and mood suggestions for untagged tracks, or accept one."""
    conn = open_db(args)
    if args.accept:
        ref, field, value = args.accept
        source = SqliteLibrarySource(conn)
        tid = source.find_track(ref)
        if tid is None:
            print(f"timbre: {source.no_track_reason(ref)}", file=sys.stderr)
            return 1
        try:
            path = store.accept_suggestion(conn, TrackId(tid), field, value)
        except store.SuggestionError as exc:
            print(f"timbre: {exc}", file=sys.stderr)
            return 1
        print(f"Wrote {field} {value!r} into {path}.")
        return 0
    version, _ = current_features()
    source = SqliteLibrarySource(conn)
    tracks = source.tracks()
    matrix = source.feature_matrix(version)
    features = {TrackId(int(i)): matrix.vectors[r] for r, i in enumerate(matrix.ids)}
    moods = store.read_moods((t.id, t.path) for t in tracks if t.id in features)
    guesses, report = autotag.suggest(tracks, features, moods,
                                      min_confidence=args.min_confidence)
    model_version = f"autotag-{autotag.FORMAT}-features-{version}"
    for field in ("genre", "mood"):
        store.replace_suggestions(
            conn, field,
            [store.Suggestion(g.track_id, g.field, g.value, g.confidence) for g in guesses],
            model_version)
    if args.json:
        print_json({"fields": report, "suggestions": [
            {"id": g.track_id, "field": g.field, "value": g.value,
             "confidence": round(g.confidence, 3)} for g in guesses]})
        return 0
    for field, info in report.items():
        acc = info.get("accuracy")
        extra = (f"; held-out accuracy {acc:.0%} "
                 f"(nearest neighbour {info['nearest_neighbour']:.0%})" if acc is not None else "")
        why = f" ({info['why']})" if "why" in info else ""
        print(f"{field}: {info['suggested']} suggestions for {info['untagged']} untagged tracks, "
              f"learned from {info['tagged']} tagged{extra}{why}")
    print("Nothing was written into your files; accept a suggestion with "
          "`timbre autotag --accept TRACK FIELD VALUE`.")
    return 0
