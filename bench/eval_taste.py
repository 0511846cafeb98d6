"""Evaluate the taste model and the auto-tagger against a simulated listener, in one run.

1. A synthetic library (the real FEATURE_NAMES layout) and a simulated listener with a
   hidden taste (tests/taste_sim.py: slow, dark tracks in the evening, energetic ones in
   the daytime, per-artist liking, jarring tempo changes skipped). The taste model is
   trained on the older plays; reported: its AUC on the next plays (never seen) against
   the baselines and the oracle (the hidden probabilities themselves).
2. For you hit rate: at evening and daytime moments after the history, the expected share
   of the 20 queued tracks the listener finishes, for the content-only queue (Play similar
   from the most finished tracks), the engine's For you queue, and each re-ranked with the
   taste model (score = (1 - w) x rank score + w x taste), and the engine's For you with
   the model wired in (recommender/foryou.py: each candidate pool re-ranked by taste).
3. The auto-tagger: genre accuracy on held-out tagged tracks against 1-nearest-neighbour,
   on the synthetic library and on real features of generated audio (player/demo.py styles).
4. Real features: the taste model on a listener over the generated audio, with and
   without the several-windows augmentation.

Run: ./bench/run eval_taste.py [--tracks 600] [--plays 4000] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from player.db import connect  # noqa: E402
from player.history import record_plays  # noqa: E402
from player.library_source import SqliteLibrarySource  # noqa: E402
from player.models import END_FINISHED, END_SKIPPED, Play, Track, TrackId  # noqa: E402
from recommender.autotag import held_out_accuracy  # noqa: E402
from recommender.engine import Engine  # noqa: E402
from recommender.taste import Context, TasteData, TasteModel  # noqa: E402
from tests.reco_helpers import add_features, add_tracks  # noqa: E402
from tests.taste_sim import (  # noqa: E402
    START,
    SimLibrary,
    finish_probability,
    make_library,
    simulate_plays,
)

TASTE_WEIGHT = 0.5


def _auc(model: TasteModel, data: TasteData, plays: list[Play]) -> float:
    prevs = [None] + [p.track_id for p in plays[:-1]]
    scores = [model.score([p.track_id], data, Context(p.started_at, prev))[0]
              for p, prev in zip(plays, prevs, strict=True)]
    return float(roc_auc_score([p.end_reason == END_FINISHED for p in plays], scores))


def _oracle(lib: SimLibrary, plays: list[Play]) -> float:
    prevs = [None] + [p.track_id for p in plays[:-1]]
    truth = [finish_probability(lib, p.track_id, p.started_at, prev)  # type: ignore[arg-type]
             for p, prev in zip(plays, prevs, strict=True)]
    return float(roc_auc_score([p.end_reason == END_FINISHED for p in plays], truth))


def _hit_rate(lib: SimLibrary, queue: list[TrackId], at: float) -> float:
    """Return the expected share of the queue the listener finishes, played in order."""
    if not queue:
        return float("nan")
    out, prev, t = [], None, at
    for tid in queue:
        out.append(finish_probability(lib, tid, t, prev))
        prev, t = tid, t + (lib.tracks[tid].duration_s or 200)
    return float(np.mean(out))


def _rerank(
    ids: list[TrackId], model: TasteModel, data: TasteData, at: float, n: int
) -> list[TrackId]:
    """Blend a queue's own order with the taste model's score (the proposed For you hook)."""
    if not ids:
        return []
    rank_score = 1.0 - np.arange(len(ids)) / len(ids)
    taste = model.score(ids, data, Context(at))
    blended = (1 - TASTE_WEIGHT) * rank_score + TASTE_WEIGHT * taste
    return [ids[i] for i in np.argsort(-blended, kind="stable")[:n]]


def taste_and_foryou(n_tracks: int, n_plays: int, n_moments: int) -> None:
    """Parts 1 and 2."""
    lib = make_library(n_tracks, seed=0)
    plays = simulate_plays(lib, n_plays, seed=1)
    n_train = int(n_plays * 0.75)
    history, future = plays[:n_train], plays[n_train:]
    data = TasteData(features=lib.features, tracks=lib.tracks, plays=history)
    t0 = time.perf_counter()
    model = TasteModel(lib.version, lib.names).fit(data)
    fit_s = time.perf_counter() - t0
    check = model.check()
    print(f"## Taste model ({n_tracks} tracks, {len(lib.names)} features, {n_train} plays of "
          f"history, {len(future)} later plays)")
    print(f"fit: {fit_s:.1f} s; held-out check on the {check['n_holdout']} most recent plays: "
          f"AUC {check['auc']:.3f}, baselines " + ", ".join(
              f"{k} {v:.3f}" for k, v in check["baselines"].items()) +
          f" -> counts: {check['counts']}")
    print(f"AUC on the {len(future)} later plays: taste model {_auc(model, data, future):.3f}, "
          f"oracle {_oracle(lib, future):.3f}, chance 0.500")
    t0 = time.perf_counter()
    model.update(TasteData(features=lib.features, tracks=lib.tracks, plays=plays[:n_train + 100]))
    print(f"update with 100 new plays (partial_fit): {1000 * (time.perf_counter() - t0):.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "bench.db")
        order = sorted(lib.tracks)
        ids = add_tracks(conn, [{"title": lib.tracks[t].title, "artist": lib.tracks[t].artist,
                                 "genres": list(lib.tracks[t].genres)} for t in order])
        real = dict(zip(order, ids, strict=True))
        back = {v: k for k, v in real.items()}
        add_features(conn, {real[t]: lib.features[t] for t in order}, version=lib.version)
        record_plays(conn, [Play(**{**{f: getattr(p, f) for f in (
            "started_at", "ended_at", "heard_ms", "fraction", "end_reason", "artist", "title",
            "duration_s")}, "track_id": real[p.track_id]}) for p in history])  # type: ignore[index]
        engine = Engine(SqliteLibrarySource(conn), lib.version)
        # For you with the model wired in (recommender/foryou.py's taste term); a copy, as
        # the engine updates its model with each new play.
        wired = Engine(SqliteLibrarySource(conn), lib.version, taste=copy.deepcopy(model))
        finished: dict[TrackId, int] = {}
        for p in history:
            if p.end_reason == END_FINISHED:
                finished[p.track_id] = finished.get(p.track_id, 0) + 1  # type: ignore[index]
        seeds = [real[t] for t, _ in sorted(finished.items(), key=lambda kv: -kv[1])[:10]]
        last_day = history[-1].started_at
        rows: dict[str, dict[str, list[float]]] = {}
        for k in range(n_moments):
            day = last_day + (k // 2 + 1) * 86400
            base = time.localtime(day)
            for part, hour in (("evening", 21), ("daytime", 11)):
                at = time.mktime((base.tm_year, base.tm_mon, base.tm_mday, hour, 0, 0, 0, 0, -1))
                content = [back[p.track_id] for p in engine.similar(seeds, n=60)]
                foryou = [back[p.track_id] for p in engine.for_you(n=60, now=at)]
                foryou_wired = [back[p.track_id] for p in wired.for_you(n=20, now=at)]
                queues = {
                    "content-only (similar to favourites)": content[:20],
                    "content-only + taste": _rerank(content, model, data, at, 20),
                    "For you": foryou[:20],
                    "For you + taste": _rerank(foryou, model, data, at, 20),
                    "For you, taste in the engine": foryou_wired,
                }
                for name, queue in queues.items():
                    rows.setdefault(name, {}).setdefault(part, []).append(_hit_rate(lib, queue, at))
        conn.close()
    print(f"\n## For you hit rate (expected share finished of 20 tracks, {n_moments} moments "
          f"each; taste weight {TASTE_WEIGHT})")
    print(f"{'queue':40s} {'evening':>8s} {'daytime':>8s}")
    for name, parts in rows.items():
        print(f"{name:40s} {np.mean(parts['evening']):8.3f} {np.mean(parts['daytime']):8.3f}")
    chance = [np.mean([finish_probability(lib, t, START + h * 3600, None) for t in lib.tracks])
              for h in (21, 11)]
    print(f"{'(a random track)':40s} {chance[0]:8.3f} {chance[1]:8.3f}")

    # Styles that overlap (within-style spread 4.5 instead of 0.8), so the task is not trivial.
    hard = make_library(n_tracks, seed=2, spread=4.5)
    tracks = [hard.tracks[t] for t in sorted(hard.tracks)]
    x = np.array([hard.features[t.id] for t in tracks], np.float64)
    labels = [t.genres[0] for t in tracks]
    result = held_out_accuracy(x, tracks, labels)
    blind = held_out_accuracy(x, [None] * len(tracks), labels)
    print(f"\n## Auto-tagger, synthetic library ({len(tracks)} tracks, {len(set(labels))} "
          f"genres in overlapping styles, {result['n_test']} held out; chance "
          f"{max(labels.count(v) for v in set(labels)) / len(labels):.3f})")
    print(f"genre accuracy: MLP audio + artist {result['accuracy']:.3f}, MLP audio only "
          f"{blind['accuracy']:.3f}, 1-nearest-neighbour (audio) {result['nearest_neighbour']:.3f}")


def real_audio(per_style: int, n_plays: int) -> None:
    """Parts 3 and 4, on features extracted from generated audio."""
    from player import demo
    from recommender.features import FEATURE_NAMES, FEATURES_VERSION, SilentAudioError, extract

    sr = demo.SR
    win = int(5 * sr)
    tracks: dict[TrackId, Track] = {}
    feats: dict[TrackId, np.ndarray] = {}
    windows: dict[TrackId, np.ndarray] = {}
    t0 = time.perf_counter()
    for s_no, style in enumerate(demo.STYLES):
        for t_no in range(per_style):
            signal = demo._render(s_no, t_no)  # the demo library's own renderer
            tid = TrackId(len(tracks) + 1)
            try:
                feats[tid] = extract(signal, sr).vector
                starts = (0, len(signal) // 2 - win // 2, len(signal) - win)
                windows[tid] = np.array([extract(signal[i:i + win], sr).vector for i in starts])
            except SilentAudioError:
                continue
            tracks[tid] = Track(id=tid, path="", title=f"{style.artist} {t_no}",
                                artist=style.artist, genres=(style.genre,), duration_s=200.0)
    print(f"\n## Real features of generated audio ({len(tracks)} tracks in "
          f"{len(demo.STYLES)} demo styles; analysed in {time.perf_counter() - t0:.0f} s)")
    ids = sorted(tracks)
    x = np.array([feats[t] for t in ids], np.float64)
    result = held_out_accuracy(x, [None] * len(ids), [tracks[t].genres[0] for t in ids])
    print(f"genre accuracy on {result['n_test']} held-out tracks (audio only): MLP "
          f"{result['accuracy']:.3f}, 1-nearest-neighbour {result['nearest_neighbour']:.3f}")

    # A listener over these tracks: slow and dark in the evening, energetic in the day.
    names = list(FEATURE_NAMES)
    z = (x - x.mean(0)) / (x.std(0) + 1e-9)
    tempo, bright, energy = (z[:, names.index(n)] for n in ("tempo_bpm", "brightness", "energy"))
    rng = np.random.default_rng(3)
    plays = []
    at = START
    for k in range(n_plays):
        i = int(rng.integers(len(ids)))
        hour = time.localtime(at).tm_hour
        u = (-1.5 * tempo[i] - 1.5 * bright[i]) if hour >= 18 or hour < 2 else 1.2 * energy[i]
        finished = rng.random() < 1 / (1 + np.exp(-u))
        plays.append(Play(track_id=ids[i], started_at=at, fraction=1.0 if finished else 0.1,
                          end_reason=END_FINISHED if finished else END_SKIPPED,
                          artist=tracks[ids[i]].artist, duration_s=200.0))
        at += 240 if k % 8 else float(rng.uniform(5, 20)) * 3600
    n_train = int(len(plays) * 0.7)
    later = plays[n_train:]
    truth = []
    for p in later:
        i = ids.index(p.track_id)  # type: ignore[arg-type]
        hour = time.localtime(p.started_at).tm_hour
        truth.append((-tempo[i] - bright[i]) if hour >= 18 or hour < 2 else energy[i])
    print(f"oracle AUC on the later plays: "
          f"{roc_auc_score([p.end_reason == END_FINISHED for p in later], truth):.4f}")
    for label, wins in (("one vector per track", {}), ("+ 3 windows per track", windows)):
        data = TasteData(features=feats, tracks=tracks, plays=plays[:n_train], windows=wins)
        model = TasteModel(FEATURES_VERSION, FEATURE_NAMES).fit(data)
        print(f"taste AUC on {len(plays) - n_train} later plays ({n_train} plays of history, "
              f"{label}): {_auc(model, data, plays[n_train:]):.4f}; counts: {model.counts_}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=600)
    parser.add_argument("--plays", type=int, default=4000)
    parser.add_argument("--moments", type=int, default=10)
    parser.add_argument("--per-style", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    args = parser.parse_args()
    if args.quick:
        args.tracks, args.plays, args.moments, args.per_style = 300, 1500, 4, 6
    t0 = time.perf_counter()
    taste_and_foryou(args.tracks, args.plays, args.moments)
    real_audio(args.per_style, 600 if args.quick else 900)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
