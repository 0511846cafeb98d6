"""Collaborative signals from the listening history: co-listening and "played after".

The history is split into sessions (a gap of more than 30 minutes starts a new one). Two
tracks played close together in a session are co-listened; a track played right after
another is a transition. Every play is weighted by how much of it was heard and by how
recent it is; an early skip counts against the pairs it is part of. Everything is a
scipy.sparse matrix over the items seen in the history, so 100k tracks and 1M plays stay
small, and new plays are folded in without refitting (only the last session is redone).
"""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp

from recommender.source import PlayLog

SESSION_GAP_S = 30 * 60
DAY_S = 86_400.0


def session_ids(started_at: np.ndarray, gap_s: float = SESSION_GAP_S) -> np.ndarray:
    """Return a session number per play (plays in time order), shape (n,) int64."""
    if started_at.shape[0] == 0:
        return np.zeros(0, np.int64)
    new = np.empty(started_at.shape[0], bool)
    new[0] = True
    np.greater(np.diff(started_at), gap_s, out=new[1:])
    return np.cumsum(new) - 1


class CoListening:
    """Item-item co-listening and transitions learned from sessions.

    Args:
        gap_s: a pause longer than this starts a new session.
        window: pairs are formed between plays at most this many positions apart in a
            session; None pairs every play of a session with every other (bags of items,
            e.g. one user's artists).
        half_life_days: a play this old counts half as much as one today.
        skip_weight: how strongly an early skip counts against its pairs.
        alpha: the asymmetric-cosine exponent; 0.5 is the cosine, higher favours
            recommending popular items less.
        shrinkage: added to the normaliser so pairs seen once do not dominate.
    """

    # The normalisers, cached between fold-ins (not a setting, not learned state).
    _norm_cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def __init__(
        self,
        gap_s: float = SESSION_GAP_S,
        window: int | None = 6,
        half_life_days: float = 180.0,
        skip_weight: float = 0.5,
        alpha: float = 0.5,
        shrinkage: float = 1.0,
    ) -> None:
        self.gap_s = gap_s
        self.window = window
        self.half_life_days = half_life_days
        self.skip_weight = skip_weight
        self.alpha = alpha
        self.shrinkage = shrinkage

    # -- fitting -------------------------------------------------------------------------
    def fit(
        self, log: PlayLog, sessions: np.ndarray | None = None, now: float | None = None
    ) -> Self:
        """Learn from a whole history; sessions overrides the 30-minute split."""
        self.anchor_ = float(now if now is not None else (log.started_at.max() if len(log) else 0.0))
        self.items_ = np.unique(log.track)
        self._reindex()
        n = self.items_.shape[0]
        self.cooc_ = sp.csr_matrix((n, n), dtype=np.float32)
        self.trans_ = sp.csr_matrix((n, n), dtype=np.float32)
        self.mass_ = np.zeros(n, np.float64)
        self.plays_ = np.zeros(n, np.float64)
        self.tail_ = PlayLog.empty()
        self.n_events_ = 0
        self._add(log, sessions)
        return self

    def partial_fit(self, new: PlayLog) -> Self:
        """Fold newer plays in: only the session they continue is recomputed."""
        if not hasattr(self, "items_"):
            return self.fit(new)
        if len(new) == 0:
            return self
        fresh = np.setdiff1d(np.unique(new.track), self.items_)
        if fresh.size:
            self._grow(fresh)
        tail = self.tail_
        if len(tail) and new.started_at[0] - tail.started_at[-1] <= self.gap_s:
            # The new plays continue the last session: take its old pairs out, redo it whole.
            self._add(tail, None, sign=-1.0)
            self._add(PlayLog.concat(tail, new), None)
        else:
            self._add(new, None)
        return self

    def _reindex(self) -> None:
        self._order = np.argsort(self.items_, kind="stable")
        self._sorted = self.items_[self._order]

    def _grow(self, fresh: np.ndarray) -> None:
        """Append unseen items (their index is after every known one)."""
        self.items_ = np.concatenate([self.items_, np.sort(fresh)])
        self._reindex()
        n = self.items_.shape[0]
        self.cooc_.resize((n, n))
        self.trans_.resize((n, n))
        self.mass_ = np.concatenate([self.mass_, np.zeros(fresh.size)])
        self.plays_ = np.concatenate([self.plays_, np.zeros(fresh.size)])

    def index_of(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """Return the item index of each track id, -1 for ids never played."""
        ids = np.asarray(ids, np.int64)
        if self._sorted.shape[0] == 0:
            return np.full(ids.shape, -1, np.int64)
        pos = np.clip(np.searchsorted(self._sorted, ids), 0, self._sorted.shape[0] - 1)
        return np.where(self._sorted[pos] == ids, self._order[pos], -1)

    def play_weights(self, log: PlayLog) -> tuple[np.ndarray, np.ndarray]:
        """Return (positive, negative) weight per play: heard x recency x count, skips apart."""
        half_life_s = self.half_life_days * DAY_S
        # Plays after the fit (folded in later) count like plays at fit time, not more.
        recency = np.exp2(-np.maximum(self.anchor_ - log.started_at, 0.0) / half_life_s)
        # Imported rows stand for several plays: more plays count, with diminishing returns.
        count = 1.0 + np.log(np.maximum(log.count, 1.0))
        heard = np.where(log.skipped, 0.0, np.maximum(log.fraction, 0.05)) * recency * count
        skipped = np.where(log.skipped, self.skip_weight, 0.0) * recency
        return heard.astype(np.float64), skipped.astype(np.float64)

    def _add(self, log: PlayLog, sessions: np.ndarray | None, sign: float = 1.0) -> None:
        """Add (or with sign=-1 remove) the pairs, transitions and mass of log's sessions."""
        if len(log) == 0:
            return
        n = self.items_.shape[0]
        idx = self.index_of(log.track)
        pos, neg = self.play_weights(log)
        sess = session_ids(log.started_at, self.gap_s) if sessions is None else np.asarray(sessions)
        _, inverse, sizes = np.unique(sess, return_inverse=True, return_counts=True)
        # Long sessions say less about any one pair; 1/sqrt(length) keeps them in check.
        scale = 1.0 / np.sqrt(sizes[inverse])
        p, q = pos * scale, neg * scale
        if self.window is None:
            shape = (sizes.shape[0], n)
            xp = sp.csr_matrix((p, (inverse, idx)), shape=shape)
            xs = sp.csr_matrix((q, (inverse, idx)), shape=shape)
            cooc = (xp.T @ xp - xp.T @ xs - xs.T @ xp).tocsr()
            cooc.setdiag(0.0)
            cooc.eliminate_zeros()
        else:
            rows, cols, vals = [], [], []
            for d in range(1, self.window + 1):
                if d >= len(log):
                    break
                same = inverse[d:] == inverse[:-d]
                a, b = idx[:-d][same], idx[d:][same]
                w = (p[:-d] * p[d:] - p[:-d] * q[d:] - q[:-d] * p[d:])[same] / np.sqrt(d)
                keep = (a != b) & (w != 0)
                a, b, w = a[keep], b[keep], w[keep]
                rows += [a, b]
                cols += [b, a]
                vals += [w, w]
            if rows:
                cooc = sp.csr_matrix(
                    (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                    shape=(n, n),
                )
            else:
                cooc = sp.csr_matrix((n, n))
        self.cooc_ = (self.cooc_ + sign * cooc.astype(np.float32)).tocsr()
        # Transitions: what came next in the same session, heard (+) or skipped (-).
        same = inverse[1:] == inverse[:-1]
        if same.any():
            w = (pos[1:] - neg[1:])[same]
            trans = sp.csr_matrix((w, (idx[:-1][same], idx[1:][same])), shape=(n, n))
            self.trans_ = (self.trans_ + sign * trans.astype(np.float32)).tocsr()
        self.mass_ += sign * np.bincount(idx, weights=pos, minlength=n)
        self.plays_ += sign * np.bincount(idx, weights=(~log.skipped).astype(float), minlength=n)
        self.n_events_ += int(sign) * len(log)
        self._norm_cache = None
        if sign > 0:
            last = sess[-1]
            self.tail_ = PlayLog(*(getattr(log, f)[sess == last] for f in
                                   ("play_id", "track", "started_at", "fraction", "skipped", "count")))
        # Keep the matrices free of the exact zeros a removal leaves behind.
        if sign < 0:
            self.cooc_.eliminate_zeros()
            self.trans_.eliminate_zeros()

    # -- scoring -------------------------------------------------------------------------
    def _norm(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the (left, right) normalisers, cached until the next fold-in."""
        cached = self._norm_cache
        if cached is not None and cached[0] == self.n_events_ and cached[1].shape == self.mass_.shape:
            return cached[1], cached[2]
        mass = np.maximum(self.mass_, 0.0)
        left, right = mass ** self.alpha, mass ** (1.0 - self.alpha) + self.shrinkage
        self._norm_cache = (self.n_events_, left, right)
        return left, right

    def score_profile(self, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Return the co-listening score of every item for a weighted profile, shape (n_items,).

        score_j = sum_i w_i C_ij / (m_i^alpha (m_j^(1-alpha) + shrinkage)), m = item mass.
        """
        n = self.items_.shape[0]
        left, right = self._norm()
        v = np.zeros(n, np.float64)
        ok = idx >= 0
        np.add.at(v, idx[ok], np.asarray(weights, np.float64)[ok])
        v = np.divide(v, left, out=np.zeros(n), where=left > 0)
        return np.asarray(np.asarray(self.cooc_ @ v).ravel() / right)  # the matrix is symmetric

    def score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Return scores for many profiles at once: (n_profiles, n_items) -> same, dense."""
        left, right = self._norm()
        inv_left = np.divide(1.0, left, out=np.zeros_like(left), where=left > 0)
        scaled = sp.csr_matrix(profiles.multiply(inv_left[None, :]))
        out = (scaled @ self.cooc_).toarray()
        return np.asarray(out / right[None, :])

    def profile_scores_sparse(
        self, idx: np.ndarray, weights: np.ndarray, after: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (items, scores) reachable from a small profile, touching only its rows.

        The same numbers as score_profile (after=False) or after_scores (after=True),
        without a pass over every item: a profile of a few tracks reaches few items.
        """
        ok = idx >= 0
        idx = idx[ok]
        w = np.asarray(weights, np.float64)[ok]
        if idx.size == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        left, right = self._norm()
        if after:
            scale = np.divide(w, self.mass_[idx] + self.shrinkage, out=np.zeros_like(w),
                              where=self.mass_[idx] > 0)
            mat = self.trans_
        else:
            scale = np.divide(w, left[idx], out=np.zeros_like(w), where=left[idx] > 0)
            mat = self.cooc_
        # Read the profile's rows straight from the CSR arrays: building scipy objects
        # for a handful of rows costs more than the arithmetic.
        ptr, ind, dat = mat.indptr, mat.indices, mat.data
        cols = [ind[ptr[i]:ptr[i + 1]] for i in idx]
        vals = [dat[ptr[i]:ptr[i + 1]] * sc for i, sc in zip(idx, scale, strict=True)]
        if len(cols) == 1:
            items, values = cols[0].astype(np.int64), vals[0].astype(np.float64)
        else:
            all_cols = np.concatenate(cols)
            items, inverse = np.unique(all_cols, return_inverse=True)
            values = np.bincount(inverse, weights=np.concatenate(vals), minlength=items.size)
            items = items.astype(np.int64)
        if not after:
            values = values / right[items]
        return items, values

    def after_scores(self, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Return how strongly each item tends to follow the given items, shape (n_items,).

        Each source item's transitions are divided by its play mass, so the result is
        the share of its plays the target followed.
        """
        n = self.items_.shape[0]
        v = np.zeros(n, np.float64)
        ok = idx >= 0
        np.add.at(v, idx[ok], np.asarray(weights, np.float64)[ok])
        v = np.divide(v, self.mass_ + self.shrinkage, out=np.zeros(n), where=self.mass_ > 0)
        return np.asarray(self.trans_.T @ v).ravel()

    def neighbours(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (items, similarity) of item's k strongest co-listened items, best first."""
        left, right = self._norm()
        lo, hi = self.cooc_.indptr[item], self.cooc_.indptr[item + 1]
        cols = self.cooc_.indices[lo:hi]
        sims = self.cooc_.data[lo:hi] / (left[item] * right[cols] + 1e-12)
        order = np.argsort(-sims)[:k]
        return cols[order], sims[order]

    def transitions(self, src: int, dst: int) -> float:
        """Return the weighted count of times dst was heard right after src."""
        return float(self.trans_[src, dst])

    def play_count(self, item: int) -> int:
        """Return the number of (non-skipped) plays of an item in the fitted history."""
        return round(float(self.plays_[item]))
