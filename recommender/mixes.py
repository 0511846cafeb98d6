"""Mixes: the library grouped by sound, each group named from what defines it.

The space is the similarity space of recommender/similarity.py: the unit audio rows
(grouped, standardised features) next to a small dense projection of the tag tokens,
weighted as the similarity weighs them. K-means runs there with a number of clusters
chosen for the library: candidates around sqrt(n)/2 (2..24) are scored by silhouette on
a sample, with a gentle pull toward that size-based guess, so planted styles come out
as separate mixes and a continuous library still gets a handful of useful ones.

Each mix is named from its descriptors compared with the library's (tempo, energy,
brightness, danceability, acousticness, loudness, mode) and its dominant genre, e.g.
"Fast, bright, electronic", ordered for smooth transitions with artists spaced out.
Personal mixes come from the clusters the user actually plays (recent plays weigh more),
ranked by closeness to what was played there. Everything is recomputed from the current
snapshot, so mixes follow the library and the history; the seed is fixed so names and
contents are stable while nothing changes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.metrics import silhouette_score

from player.models import TrackId
from recommender.picks import Snapshot, select, smooth_order
from recommender.source import DESCRIPTOR_NAMES

MIN_MIX = 4  # tracks; a smaller cluster is not worth a mix
MAX_MIXES = 24
MIX_LENGTH = 50
SAMPLE = 2_000  # rows scored when choosing the number of clusters
META_DIMS = 16
WORD_Z = 0.6  # how far (in library standard deviations) a cluster must stand out
PERSONAL_HALF_LIFE_DAYS = 90.0
PERSONAL_MIN_SHARE = 0.1
MAX_PERSONAL = 4

# (descriptor, word when high, word when low, what the reason says)
_WORDS: tuple[tuple[str, str | None, str | None, str], ...] = (
    ("tempo_bpm", "fast", "slow", "tempo"),
    ("energy", "energetic", "calm", "energy"),
    ("brightness", "bright", "dark", "brightness"),
    ("danceability", "danceable", None, "danceability"),
    ("acousticness", "acoustic", "electronic", "acousticness"),
    ("loudness_db", "loud", "quiet", "loudness"),
)
_MODE = DESCRIPTOR_NAMES.index("mode")
# Words that name a kind of music, not a comparison, also need the value itself: in a
# library of string quartets and madrigals, the least acoustic group is still not
# electronic (the demo's electronic tracks average 0.62, its rock 0.72, folk 0.96).
_ABSOLUTE: dict[str, tuple[float, float]] = {"electronic": (0.0, 0.7), "acoustic": (0.8, 1.0)}


@dataclass(frozen=True)
class Mix:
    """One generated mix: a name, why these tracks belong together, and the tracks in order."""

    name: str
    reason: str
    tracks: list[TrackId]
    kind: str = "sound"  # sound | personal
    cluster: int = -1


@dataclass
class Clustering:
    """Cluster labels over content rows (-1 for rows left out) and the clusters' centres."""

    rows: np.ndarray  # (m,) content rows clustered
    labels: np.ndarray  # (m,) cluster of each
    space: np.ndarray  # (m, d) the clustering space
    centres: np.ndarray  # (k, d)

    @property
    def k(self) -> int:
        """Return the number of clusters."""
        return int(self.centres.shape[0])


def embedding(snap: Snapshot, rows: np.ndarray) -> np.ndarray:
    """Return the rows in the clustering space, shape (len(rows), d)."""
    sim = snap.sim
    parts = []
    if sim.audio_.shape[1] and sim.has_audio_[rows].any():
        parts.append(np.sqrt(sim.audio_weight) * sim.audio_[rows])
    meta = sim.meta_[rows]
    if meta.shape[1] > 2 and meta.nnz:
        dims = min(META_DIMS, meta.shape[1] - 1, max(1, len(rows) - 1))
        dense = TruncatedSVD(dims, random_state=0).fit_transform(meta)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        np.divide(dense, norms, out=dense, where=norms > 0)
        parts.append(np.sqrt(sim.metadata_weight) * dense)
    if not parts:
        return np.zeros((len(rows), 1), np.float32)
    return np.concatenate(parts, axis=1).astype(np.float32)


def size_guess(n: int) -> int:
    """Return the number of mixes a library of n tracks suggests before looking at it."""
    return int(min(MAX_MIXES, max(2, round(math.sqrt(n) / 2))))


def choose_k(space: np.ndarray, seed: int = 0) -> int:
    """Return the number of clusters: best silhouette, pulled gently toward size_guess."""
    n = space.shape[0]
    k_max = min(MAX_MIXES, n // MIN_MIX)
    if k_max < 2:
        return 1
    rng = np.random.default_rng(seed)
    sample = space if n <= SAMPLE else space[rng.choice(n, SAMPLE, replace=False)]
    guess = size_guess(n)
    best_k, best = 1, -np.inf
    for k in sorted({2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, guess}):
        if k > k_max or k >= sample.shape[0]:
            continue
        labels = KMeans(k, n_init=1, random_state=seed).fit_predict(sample)
        if len(set(labels.tolist())) < 2:
            continue
        score = silhouette_score(sample, labels) - 0.05 * abs(math.log2(k / guess))
        if score > best:
            best_k, best = k, score
    return best_k


def cluster(snap: Snapshot, k: int | None = None, seed: int = 0) -> Clustering:
    """Cluster the playable, unbanned library in the similarity space.

    Once most of the library is analysed, only analysed tracks are clustered: the others
    would sit at the origin of the audio space and form clusters of "not analysed yet".
    """
    sim = snap.sim
    rows = np.asarray([r for r, t in enumerate(sim.tracks_)
                       if t is not None and not snap.banned_[r]], np.int64)
    if rows.size and sim.audio_.shape[1] and sim.has_audio_[rows].mean() >= 0.5:
        rows = rows[sim.has_audio_[rows]]
    space = embedding(snap, rows) if rows.size else np.zeros((0, 1), np.float32)
    if rows.size == 0:
        return Clustering(rows, np.zeros(0, np.int64), space, np.zeros((0, 1), np.float32))
    k = choose_k(space, seed) if k is None else max(1, min(k, rows.size))
    if k == 1:
        return Clustering(rows, np.zeros(rows.size, np.int64), space, space.mean(0, keepdims=True))
    model = (MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=4096)
             if rows.size > 20_000 else KMeans(k, n_init=4, random_state=seed))
    labels = model.fit_predict(space)
    return Clustering(rows, labels.astype(np.int64), space, model.cluster_centers_.astype(np.float32))


def _genres(snap: Snapshot, row: int) -> set[str]:
    t = snap.track(row)
    return {g.strip().casefold() for g in (t.genres if t else ()) if g.strip()}


def describe_cluster(snap: Snapshot, members: np.ndarray, library: np.ndarray) -> tuple[str, str]:
    """Return (name, reason) for a cluster from its descriptors and dominant tags."""
    desc = snap.sim.descriptors_
    words: list[tuple[float, str, str]] = []  # (strength, word, reason part)
    for col, high, low, label in _WORDS:
        j = DESCRIPTOR_NAMES.index(col)
        lib = desc[library, j]
        lib = lib[np.isfinite(lib)]
        mine = desc[members, j]
        mine = mine[np.isfinite(mine)]
        if lib.size < 4 or mine.size < max(2, members.size // 2):
            continue
        spread = float(np.std(lib, dtype=np.float64))
        if spread <= 1e-6 * max(1.0, abs(float(np.mean(lib)))):
            continue  # the same for the whole library: nothing stands out (float noise aside)
        z = (float(np.mean(mine, dtype=np.float64)) - float(np.mean(lib, dtype=np.float64))) / spread
        word = high if z >= WORD_Z else low if z <= -WORD_Z else None
        lo, hi = _ABSOLUTE.get(word or "", (-np.inf, np.inf))
        if word and lo <= float(np.mean(mine)) <= hi:
            unit = " BPM" if col == "tempo_bpm" else " dB" if col == "loudness_db" else ""
            value = f"{np.mean(mine):.0f}{unit}" if unit else f"{np.mean(mine):.2f}"
            words.append((abs(z), word, f"{'higher' if z > 0 else 'lower'} {label} ({value})"))
    modes = desc[members, _MODE]
    modes = modes[np.isfinite(modes)]
    if modes.size >= max(2, members.size // 2) and float(np.mean(modes)) <= 0.25:
        words.append((WORD_Z, "minor keys", f"{100 * (1 - np.mean(modes)):.0f}% in minor keys"))
    words.sort(key=lambda w: -w[0])
    chosen = words[:2]

    genre_counts = Counter(g for r in members for g in _genres(snap, int(r)))
    lib_counts = Counter(g for r in library for g in _genres(snap, int(r)))
    genre = None
    if genre_counts:
        g, c = genre_counts.most_common(1)[0]
        share = c / members.size
        lift = share / max(lib_counts[g] / max(library.size, 1), 1e-9)
        if share >= 0.5 and (lift >= 1.3 or share >= 0.9):
            genre = (g, share)
    parts = [w for _, w, _ in chosen]
    if genre and genre[0] not in parts:
        parts.append(genre[0])
    elif not genre:
        artists = Counter(snap.sim.artist_keys_[int(r)] for r in members) - Counter({"": 10**9})
        top = artists.most_common(2)
        if top and top[0][1] / members.size >= 0.6:
            parts.append(f"mostly {_artist_name(snap, members, top[0][0])}")
        elif not parts and len(top) == 2 and top[1][1] >= 2:
            # Nothing stands out but who plays: name it by its two main artists rather
            # than "Mix 3".
            parts.append(f"{_artist_name(snap, members, top[0][0])}, "
                         f"{_artist_name(snap, members, top[1][0])} and more")
    name = ", ".join(parts) if parts else ""
    name = name[:1].upper() + name[1:]
    reasons = [why for _, _, why in chosen]
    text = "Grouped by sound"
    if reasons:
        text += ": " + " and ".join(reasons) + " than the rest of the library"
    if genre:
        text += f"; {genre[1]:.0%} tagged {genre[0]}"
    return name, f"{text}; {members.size} track{'' if members.size == 1 else 's'}."


def _artist_name(snap: Snapshot, members: np.ndarray, key: str) -> str:
    """Return an artist as tagged on the first member credited under the key."""
    track = next(snap.track(int(r)) for r in members if snap.sim.artist_keys_[int(r)] == key)
    return (track.artist or key) if track else key


def _order(snap: Snapshot, ranked: list[int], n: int) -> list[TrackId]:
    picked = select(snap, ranked, n, artist_gap=3, artist_cap=n)
    rows = smooth_order(snap, picked)
    return [TrackId(int(snap.sim.track_ids_[r])) for r in rows]


def sound_mixes(snap: Snapshot, clustering: Clustering | None = None,
                length: int = MIX_LENGTH) -> list[Mix]:
    """Return one mix per cluster of at least MIN_MIX tracks, largest first."""
    c = clustering or cluster(snap)
    mixes: list[Mix] = []
    names: Counter[str] = Counter()
    for label in sorted(range(c.k), key=lambda lb: -int(np.sum(c.labels == lb))):
        inside = np.flatnonzero(c.labels == label)
        if inside.size < min(MIN_MIX, c.rows.size):
            continue
        dist = np.linalg.norm(c.space[inside] - c.centres[label], axis=1)
        ranked = [int(c.rows[i]) for i in inside[np.argsort(dist, kind="stable")]]
        name, reason = describe_cluster(snap, c.rows[inside], c.rows)
        name = name or f"Mix {len(mixes) + 1}"
        names[name] += 1
        if names[name] > 1:
            name = f"{name} {names[name]}"
        mixes.append(Mix(name, reason, _order(snap, ranked, length), "sound", label))
    return mixes


def personal_mixes(snap: Snapshot, now: float, clustering: Clustering | None = None,
                   length: int = MIX_LENGTH, names: dict[int, str] | None = None) -> list[Mix]:
    """Return mixes from the clusters the user listens to most (recent plays weigh more).

    names: the sound mixes' names by cluster, when already computed.
    """
    c = clustering or cluster(snap)
    log = snap.log
    if len(log) == 0 or c.k == 0:
        return []
    label_of = np.full(len(snap.sim), -1, np.int64)
    label_of[c.rows] = c.labels
    rows = snap.log_rows_
    ok = rows >= 0
    age_days = np.maximum(0.0, (now - log.started_at) / 86_400.0)
    weight = log.count * np.where(log.skipped, 0.0, 1.0) * 0.5 ** (age_days / PERSONAL_HALF_LIFE_DAYS)
    weight = np.where(ok, weight, 0.0)
    labels = np.where(ok, label_of[np.where(ok, rows, 0)], -1)
    total = float(weight[labels >= 0].sum())
    if total <= 0:
        return []
    shares = {lb: float(weight[labels == lb].sum()) / total for lb in range(c.k)}
    top = [lb for lb, s in sorted(shares.items(), key=lambda p: -p[1]) if s >= PERSONAL_MIN_SHARE]
    named = names if names is not None else {m.cluster: m.name for m in sound_mixes(snap, c, 1)}
    mixes = []
    for rank, label in enumerate(top[:MAX_PERSONAL], start=1):
        inside = c.rows[c.labels == label]
        mine = labels == label
        played = rows[mine & (weight > 0)]
        per_track: Counter[int] = Counter()
        for r, w in zip(played.tolist(), weight[mine & (weight > 0)].tolist(), strict=True):
            if not snap.judged_[r]:  # "not this" / "less like this": not a favourite
                per_track[int(r)] += w
        seeds = [r for r, _ in per_track.most_common(16)]
        taste = snap.sim.scores(seeds, [per_track[r] for r in seeds])[inside] if seeds \
            else np.zeros(inside.size, np.float32)
        favourite = np.asarray([per_track.get(int(r), 0.0) for r in inside], np.float32)
        favourite = favourite / favourite.max() if favourite.max() > 0 else favourite
        score = snap.penalised(taste + 0.5 * favourite, inside)
        ranked = [int(r) for r in inside[np.argsort(-score, kind="stable")]]
        base = named.get(label, "")
        name = f"Your mix {rank}: {base}" if base and not base.startswith("Mix ") \
            else f"Your mix {rank}"
        played_n = len(per_track)
        reason = (f"From the music you play most: {shares[label]:.0%} of your recent listening "
                  f"({played_n} track{'' if played_n == 1 else 's'} played) is in this group; "
                  "favourites first, then tracks that sound like them.")
        mixes.append(Mix(name, reason, _order(snap, ranked, length), "personal", label))
    return mixes


SAME_MIX_SHARE = 0.8  # a sound mix sharing this much with a personal mix is not listed


def all_mixes(snap: Snapshot, now: float, length: int = MIX_LENGTH) -> list[Mix]:
    """Return the personal mixes, then the sound mixes, from one clustering.

    A sound mix that holds mostly the tracks of a personal mix of its cluster (a cluster
    no bigger than a mix gives both the same tracks, in another order) is left out: the
    sidebar would list "Your mix 1: Slow, dark, jazz" and "Slow, dark, jazz" for one list.
    """
    c = cluster(snap)
    sound = sound_mixes(snap, c, length)
    personal = personal_mixes(snap, now, c, length, {m.cluster: m.name for m in sound})
    mine = {m.cluster: set(m.tracks) for m in personal}
    kept = [m for m in sound if m.cluster not in mine
            or len(mine[m.cluster] & set(m.tracks)) < SAME_MIX_SHARE * len(m.tracks)]
    return personal + kept
