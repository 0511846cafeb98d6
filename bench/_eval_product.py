"""The product's own path for bench/eval_similarity.py: scan, analyse, Play similar."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from player.db import connect
from player.library_source import SqliteLibrarySource
from player.scanner import scan
from recommender.analysis import analyze
from recommender.engine import Engine


def product_pairwise_scores(paths: list[Path], workdir: Path) -> tuple[np.ndarray, float]:
    """Rank every track's Play similar list as a user gets it; return (n, n) scores.

    Scores are rank-based: the k-th pick of track i gets n - k in row i, so the top of
    each row is exactly the engine's list (all other tracks score -inf).
    """
    db = workdir / "eval.db"
    roots = sorted({p.parent for p in paths})
    t0 = time.perf_counter()
    scan(roots, db, cancel=threading.Event())
    analyze(db, workers=2, cancel=threading.Event())
    seconds = time.perf_counter() - t0
    conn = connect(db)
    by_path = {
        Path(path): int(tid) for tid, path in conn.execute("SELECT id, path FROM tracks")
    }
    ids = [by_path[p] for p in paths]
    row_of = {tid: i for i, tid in enumerate(ids)}
    engine = Engine(SqliteLibrarySource(conn))
    n = len(paths)
    scores = np.full((n, n), -np.inf, dtype=np.float64)
    for i, tid in enumerate(ids):
        for rank, pick in enumerate(engine.similar([tid], n=10)):
            j = row_of.get(int(pick.track_id))
            if j is not None:
                scores[i, j] = n - rank
    return scores, seconds
