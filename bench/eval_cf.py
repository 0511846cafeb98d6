"""Evaluate the collaborative model on real listening data (HetRec 2011 Last.fm, 1,892 users).

    ./bench/run eval_cf.py                 # data at ../shared/data/hetrec2011-lastfm-2k
    ./bench/run eval_cf.py --data DIR

Each user is one history and each artist an item. Protocol: users with at least 10
artists; for each, 20% of their artists are hidden (seeded); every model is fitted on
everything else and recommends 10 artists the user has not got. Reported: hit rate@10
(share of users with at least one hidden artist in their 10), recall@10 (hidden artists
found / hidden artists, averaged over users) and NDCG@10 (binary relevance), for random,
most-popular, the product's collaborative model (recommender.collaborative.CoListening,
through an adapter), a tag-only content model (TF-IDF over user_taggedartists.dat) and the
blend of the last two.

Tuning is honest: the settings are chosen on a validation split carved out of the training
data the same way (20% of each user's remaining artists), then the models are refitted on
all the training data and scored once on the hidden test artists. The tag model never sees
a tag a user put on one of their own hidden artists (that would reveal the answer).
The data is read in place, never copied.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.collaborative import CoListening  # noqa: E402
from recommender.source import PlayLog  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hetrec2011-lastfm-2k"
K = 10
MIN_ARTISTS = 10
HIDE = 0.2
SEED = 20_111

Scorer = Callable[[np.ndarray], np.ndarray]  # user indices -> (len, n_items) scores


def load(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (user, artist, plays) of user_artists.dat and (user, artist, tag) of the tags."""
    ua = np.loadtxt(data / "user_artists.dat", dtype=np.int64, skiprows=1, delimiter="\t")
    ut = np.loadtxt(data / "user_taggedartists.dat", dtype=np.int64, skiprows=1, delimiter="\t",
                    usecols=(0, 1, 2))
    return ua[:, 0], ua[:, 1], ua[:, 2], ut


def split(users: np.ndarray, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return a mask of rows to hide: 20% (at least one) of each eligible user's rows."""
    hide = np.zeros(users.size, bool)
    order = np.argsort(users, kind="stable")
    bounds = np.flatnonzero(np.diff(users[order])) + 1
    for rows in np.split(order, bounds):
        if not eligible[users[rows[0]]]:
            continue
        n_hide = max(1, int(round(HIDE * rows.size)))
        hide[rng.choice(rows, n_hide, replace=False)] = True
    return hide


def interaction_matrix(users: np.ndarray, items: np.ndarray, plays: np.ndarray,
                       n_users: int, n_items: int) -> sp.csr_matrix:
    """Return the (users x items) matrix of 1 + log(plays) weights."""
    w = 1.0 + np.log(np.maximum(plays, 1)).astype(np.float64)
    return sp.csr_matrix((w, (users, items)), shape=(n_users, n_items))


# -- models ------------------------------------------------------------------------------
def fit_cf(users: np.ndarray, items: np.ndarray, plays: np.ndarray, n_items: int,
           alpha: float, shrinkage: float) -> CoListening:
    """Fit the product's model: each user's artists are one session, counts weigh plays."""
    log = PlayLog(
        play_id=np.arange(1, users.size + 1, dtype=np.int64), track=items.astype(np.int64),
        started_at=np.zeros(users.size), fraction=np.ones(users.size, np.float32),
        skipped=np.zeros(users.size, bool), count=plays.astype(np.float32),
    )
    model = CoListening(window=None, alpha=alpha, shrinkage=shrinkage, half_life_days=1e9)
    return model.fit(log, sessions=users, now=0.0)


def cf_scorer(model: CoListening, train: sp.csr_matrix, n_items: int) -> Scorer:
    """Score items for users from their training artists through the model."""
    # The model indexes only items it has seen; map artist columns to its indices.
    idx = model.index_of(np.arange(n_items))
    seen = np.flatnonzero(idx >= 0)
    to_model = sp.csr_matrix(
        (np.ones(seen.size), (seen, idx[seen])), shape=(n_items, model.items_.shape[0])
    )

    def score(u: np.ndarray) -> np.ndarray:
        profiles = train[u] @ to_model  # (users, model items)
        s = model.score_profiles(profiles)  # (users, model items)
        out = np.zeros((u.size, n_items), np.float32)
        out[:, seen] = s[:, idx[seen]]
        return out

    return score


def tag_matrix(tags: np.ndarray, hidden_pairs: set[tuple[int, int]], n_items: int) -> sp.csr_matrix:
    """Return unit-length TF-IDF artist x tag rows; tags on hidden (user, artist) pairs left out."""
    keep = np.fromiter(((int(u), int(a)) not in hidden_pairs for u, a, _ in tags), bool, len(tags))
    t = tags[keep]
    t = t[t[:, 1] < n_items]
    # One user tagging an artist counts once per tag: distinct (user, artist, tag).
    t = np.unique(t, axis=0)
    n_tags = int(tags[:, 2].max()) + 1
    counts = sp.csr_matrix((np.ones(len(t)), (t[:, 1], t[:, 2])), shape=(n_items, n_tags))
    tf = counts.copy()
    tf.data = 1.0 + np.log(tf.data)
    df = np.bincount(counts.indices, minlength=n_tags)
    idf = np.log((1 + n_items) / (1 + df)) + 1.0
    x = sp.csr_matrix(tf.multiply(idf[None, :]))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ x)


def tag_scorer(x: sp.csr_matrix, train: sp.csr_matrix) -> Scorer:
    """Score items by the cosine of their tags to the user's play-weighted tag profile."""
    def score(u: np.ndarray) -> np.ndarray:
        profile = train[u] @ x  # (users, tags)
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        profile = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ profile
        return np.asarray((profile @ x.T).toarray(), np.float32)
    return score


def popular_scorer(train: sp.csr_matrix) -> Scorer:
    """Score items by how many users listen to them."""
    pop = np.asarray((train > 0).sum(axis=0)).ravel().astype(np.float32)
    return lambda u: np.repeat(pop[None, :], u.size, axis=0)


def random_scorer(n_items: int, seed: int) -> Scorer:
    """Score items at random."""
    rng = np.random.default_rng(seed)
    return lambda u: rng.random((u.size, n_items), dtype=np.float32)


def blend_scorer(a: Scorer, b: Scorer, beta: float) -> Scorer:
    """Blend two scorers after scaling each user's scores to a maximum of 1."""
    def unit(s: np.ndarray) -> np.ndarray:
        top = s.max(axis=1, keepdims=True)
        return np.divide(s, top, out=np.zeros_like(s), where=top > 0)
    return lambda u: (1.0 - beta) * unit(a(u)) + beta * unit(b(u))


# -- evaluation --------------------------------------------------------------------------
def evaluate(score: Scorer, train: sp.csr_matrix, hidden: sp.csr_matrix, users: np.ndarray) -> dict[str, float]:
    """Return hit rate@10, recall@10 and NDCG@10 over users (batches of 256)."""
    hits_any, recalls, ndcgs = [], [], []
    discount = 1.0 / np.log2(np.arange(2, K + 2))
    for start in range(0, users.size, 256):
        u = users[start:start + 256]
        s = score(u).astype(np.float32)
        known = train[u]
        s[known.nonzero()] = -np.inf  # never recommend what the user already has
        top = np.argpartition(-s, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(s, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        truth = hidden[u]
        for i in range(u.size):
            want = truth.indices[truth.indptr[i]:truth.indptr[i + 1]]
            rel = np.isin(top[i], want)
            n_rel = int(rel.sum())
            hits_any.append(n_rel > 0)
            recalls.append(n_rel / want.size)
            ideal = discount[: min(K, want.size)].sum()
            ndcgs.append(float((rel * discount).sum() / ideal))
    return {"hit": float(np.mean(hits_any)), "recall": float(np.mean(recalls)),
            "ndcg": float(np.mean(ndcgs))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the hetrec2011-lastfm-2k folder")
    args = ap.parse_args()
    if not (args.data / "user_artists.dat").exists():
        sys.exit(f"eval_cf: no user_artists.dat in {args.data} (give --data DIR)")
    t_start = time.perf_counter()
    users, items, plays, tags = load(args.data)
    n_users, n_items = int(users.max()) + 1, int(max(items.max(), tags[:, 1].max())) + 1
    per_user = np.bincount(users, minlength=n_users)
    eligible = per_user >= MIN_ARTISTS
    rng = np.random.default_rng(SEED)
    test = split(users, eligible, rng)
    tr = ~test
    # Validation: the same protocol inside the training data, for tuning only.
    val_in_tr = split(users[tr], eligible, rng)
    fit_rows = np.flatnonzero(tr)[~val_in_tr]
    val_rows = np.flatnonzero(tr)[val_in_tr]
    eval_users = np.flatnonzero(eligible)
    print(f"Last.fm hetrec2011: {eval_users.size} users with >= {MIN_ARTISTS} artists "
          f"(of {np.count_nonzero(per_user)}), {len(users):,} user-artist pairs, "
          f"{test.sum():,} hidden for test, {val_rows.size:,} for validation")

    def matrices(rows_fit: np.ndarray, rows_hidden: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        fit_m = interaction_matrix(users[rows_fit], items[rows_fit], plays[rows_fit], n_users, n_items)
        hid_m = interaction_matrix(users[rows_hidden], items[rows_hidden], plays[rows_hidden], n_users, n_items)
        return fit_m, hid_m

    # Tags on any hidden pair (test or validation) are unknown while tuning.
    not_fit = np.ones(len(users), bool)
    not_fit[fit_rows] = False
    hidden_pairs = {(int(a), int(b)) for a, b in zip(users[not_fit], items[not_fit], strict=True)}
    fit_m, val_m = matrices(fit_rows, val_rows)
    x_val = tag_matrix(tags, hidden_pairs, n_items)

    # -- tuning on validation ----------------------------------------------------------
    best_cf, best_cf_ndcg = (0.5, 1.0), -1.0
    for alpha, shrink in itertools.product((0.2, 0.3, 0.5), (5.0, 20.0, 50.0)):
        model = fit_cf(users[fit_rows], items[fit_rows], plays[fit_rows], n_items, alpha, shrink)
        m = evaluate(cf_scorer(model, fit_m, n_items), fit_m, val_m, eval_users)
        if m["ndcg"] > best_cf_ndcg:
            best_cf, best_cf_ndcg = (alpha, shrink), m["ndcg"]
    model = fit_cf(users[fit_rows], items[fit_rows], plays[fit_rows], n_items, *best_cf)
    cf_val, tag_val = cf_scorer(model, fit_m, n_items), tag_scorer(x_val, fit_m)
    best_beta, best_beta_ndcg = 0.0, -1.0
    for beta in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5):
        m = evaluate(blend_scorer(cf_val, tag_val, beta), fit_m, val_m, eval_users)
        if m["ndcg"] > best_beta_ndcg:
            best_beta, best_beta_ndcg = beta, m["ndcg"]
    print(f"tuned on validation: CF alpha={best_cf[0]} shrinkage={best_cf[1]} "
          f"(NDCG@10 {best_cf_ndcg:.3f}); blend weight of tags={best_beta} (NDCG@10 {best_beta_ndcg:.3f})")

    # -- the test: refit on all training data, score once ------------------------------
    train_rows, test_rows = np.flatnonzero(tr), np.flatnonzero(test)
    train_m, test_m = matrices(train_rows, test_rows)
    test_pairs = {(int(a), int(b)) for a, b in zip(users[test], items[test], strict=True)}
    x = tag_matrix(tags, test_pairs, n_items)
    t0 = time.perf_counter()
    model = fit_cf(users[train_rows], items[train_rows], plays[train_rows], n_items, *best_cf)
    fit_s = time.perf_counter() - t0
    cf, tag = cf_scorer(model, train_m, n_items), tag_scorer(x, train_m)
    rows = [
        ("random", random_scorer(n_items, SEED)),
        ("most popular", popular_scorer(train_m)),
        ("collaborative (CoListening)", cf),
        ("tags only (TF-IDF content)", tag),
        (f"blend (CF + {best_beta:g} tags)", blend_scorer(cf, tag, best_beta)),
    ]
    print(f"\n{'model':<32} {'hit rate@10':>11} {'recall@10':>10} {'NDCG@10':>8}")
    for name, scorer in rows:
        m = evaluate(scorer, train_m, test_m, eval_users)
        print(f"{name:<32} {m['hit']:>11.3f} {m['recall']:>10.3f} {m['ndcg']:>8.3f}")
    print(f"\nCF fit on {train_rows.size:,} pairs: {fit_s:.2f} s; whole run {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
