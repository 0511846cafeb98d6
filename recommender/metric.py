"""A sound space learned from the library's own genre tags, used only when it helps.

The unsupervised space (recommender.similarity) weighs every audio feature by a fixed
rule. A library whose tracks carry genre tags says more: which directions of the audio
features separate the user's genres. Linear discriminant analysis (with Ledoit-Wolf
shrinkage, so a few dozen tracks per genre are enough) finds those directions on the
analysed, genre-tagged tracks, and every analysed track, tagged or not, is projected on
them. The learned directions join the unsupervised space, half each, so what the genres
do not capture (mood, tempo within a genre) still counts.

It is used only when it measurably helps on the library itself: the tagged tracks are
split in two (seeded), the projection learned on one half, and on the other half the
share of same-genre tracks among each track's 10 nearest neighbours must rise by at least
MIN_GAIN. A library without tags, with too few per genre, or whose genre tags do not
follow the sound keeps the unsupervised space.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg

MIN_PER_GENRE = 8
"""Analysed tracks a genre needs before it teaches the space anything."""
MIN_GENRES = 3
MAX_DIMS = 16
"""Learned directions kept at most: the search cost grows with the dimensions."""
LEARNED_SHARE = 0.5
"""Share of a cosine that comes from the learned directions (the rest: the unsupervised space)."""
MIN_GAIN = 0.01
"""Rise of held-out same-genre precision@10 needed to use the learned space."""
_CHECK_QUERIES = 1_000
_MAX_FIT_ROWS = 10_000
_CHECK_CANDIDATES = 20_000


@dataclass(frozen=True, slots=True)
class LearnedMetric:
    """A projection of the unit audio embedding, and the held-out check that admitted it."""

    mean: np.ndarray  # (d,) float32
    projection: np.ndarray  # (d, k) float32
    genres: tuple[str, ...]
    tracks: int  # tagged tracks it was learned from
    precision_before: float  # held-out same-genre precision@10, unsupervised space
    precision_after: float  # ... with the learned directions

    def apply(self, emb: np.ndarray) -> np.ndarray:
        """Return unit rows: emb (unit rows) and its learned projection, side by side."""
        return combine(emb, self.mean, self.projection)


def combine(emb: np.ndarray, mean: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """Return [sqrt(1 - s) emb, sqrt(s) unit(projected)] for unit rows emb, s = LEARNED_SHARE."""
    learned = (emb - mean) @ projection
    norms = np.linalg.norm(learned, axis=1, keepdims=True)
    np.divide(learned, norms, out=learned, where=norms > 0)
    keep = np.linalg.norm(emb, axis=1) > 0  # unanalysed rows stay all zero
    out = np.concatenate([emb * np.float32(np.sqrt(1.0 - LEARNED_SHARE)),
                          learned * np.float32(np.sqrt(LEARNED_SHARE))], axis=1)
    out[~keep] = 0.0
    return np.ascontiguousarray(out, dtype=np.float32)


def learn(emb: np.ndarray, labels: Sequence[str], seed: int = 0) -> LearnedMetric | None:
    """Learn the metric from the unit rows emb and their genre labels ("" = untagged).

    Returns None when the library cannot teach it (too few tagged tracks or genres) or
    when the held-out check finds no gain.
    """
    counts = Counter(x for x in labels if x)
    genres = sorted(g for g, c in counts.items() if c >= MIN_PER_GENRE)
    if len(genres) < MIN_GENRES:
        return None
    code_of = {g: i for i, g in enumerate(genres)}
    codes = np.fromiter((code_of.get(x, -1) for x in labels), np.int64, len(labels))
    rows = np.flatnonzero((codes >= 0) & (np.linalg.norm(emb, axis=1) > 0))
    rng = np.random.default_rng(seed)
    if rows.size > 2 * _MAX_FIT_ROWS:  # a few thousand per genre say all LDA needs
        rows = np.sort(rng.choice(rows, 2 * _MAX_FIT_ROWS, replace=False))
    first = np.zeros(rows.size, bool)
    for g in range(len(genres)):  # half of each genre on each side
        mine = np.flatnonzero(codes[rows] == g)
        first[rng.permutation(mine)[: mine.size // 2]] = True
    train, held = rows[first], rows[~first]
    fitted = _fit(emb[train], codes[train])
    if fitted is None:
        return None
    before = _precision(emb[held], codes[held], rng)
    after = _precision(combine(emb[held], *fitted), codes[held], rng)
    if after - before < MIN_GAIN:
        return None
    final = _fit(emb[rows], codes[rows])
    if final is None:
        return None
    return LearnedMetric(final[0], final[1], tuple(genres), int(rows.size), before, after)


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (mean, projection) of shrinkage LDA on rows x with class codes y, or None.

    The columns are standardised, the pooled within-genre covariance is shrunk toward a
    multiple of the identity by the Ledoit-Wolf rule, and the directions are the leading
    generalised eigenvectors of the between-genre against the within-genre covariance.
    """
    x = x.astype(np.float64)
    classes, y = np.unique(y, return_inverse=True)
    if classes.size < 2 or x.shape[0] <= classes.size:
        return None
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-9] = 1.0
    z = (x - mean) / sd
    centres = np.zeros((classes.size, z.shape[1]))
    np.add.at(centres, y, z)
    sizes = np.bincount(y, minlength=classes.size).astype(np.float64)
    centres /= sizes[:, None]
    within = _ledoit_wolf(z - centres[y])
    between = (centres * (sizes / sizes.sum())[:, None]).T @ centres
    try:
        values, vectors = scipy.linalg.eigh(between, within)
    except (np.linalg.LinAlgError, ValueError):  # degenerate scatter: keep the plain space
        return None
    k = int(min(classes.size - 1, MAX_DIMS, x.shape[1]))
    top = vectors[:, np.argsort(values)[::-1][:k]]
    return mean.astype(np.float32), np.ascontiguousarray(top / sd[:, None], dtype=np.float32)


def _ledoit_wolf(z: np.ndarray) -> np.ndarray:
    """Return the covariance of centred rows z shrunk toward mu * I (Ledoit and Wolf, 2004)."""
    n, d = z.shape
    cov: np.ndarray = z.T @ z / n
    mu = float(np.trace(cov)) / d
    target_gap = float(np.sum((cov - mu * np.eye(d)) ** 2))
    if target_gap <= 0:
        return cov
    spread = (float(np.sum(np.sum(z * z, axis=1) ** 2)) - n * float(np.sum(cov**2))) / n**2
    shrink = min(max(spread, 0.0), target_gap) / target_gap
    shrunk: np.ndarray = (1.0 - shrink) * cov + shrink * mu * np.eye(d)
    return shrunk


def _precision(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, k: int = 10) -> float:
    """Return the mean share of same-label rows among each query row's k cosine neighbours."""
    cand = np.arange(x.shape[0])
    if cand.size > _CHECK_CANDIDATES:
        cand = np.sort(rng.choice(cand, _CHECK_CANDIDATES, replace=False))
    queries = cand if cand.size <= _CHECK_QUERIES else rng.choice(cand, _CHECK_QUERIES, replace=False)
    c = x[cand]
    sims = x[queries] @ c.T  # (queries, candidates): at most 1,000 x 20,000
    sims[np.arange(queries.size), np.searchsorted(cand, queries)] = -np.inf  # not itself
    k = min(k, cand.size - 1)
    if k <= 0:
        return 0.0
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    return float(np.mean(y[cand][top] == y[queries][:, None]))
