"""Content similarity: the sound (grouped audio features) blended with the tags.

Audio vectors are standardised per column (as the normal quantiles of their ranks in
the library), then each group (timbre, harmony, rhythm, texture, loudness) is scaled so
that it carries its weight whatever its number of columns, and rows are made unit length:
the dot product is then a cosine where no group drowns the others. When the library's
genre tags teach it something, learned directions join this sound space
(recommender.metric). Metadata (genres, artists, album artist, composer, era) is a sparse
unit-length bag of tokens. Each pair is compared in the spaces both tracks have, so
un-analysed tracks are compared by their tags and untagged tracks by their sound. Search
is a brute-force float32 matrix-vector product with argpartition: no tracks x tracks
matrix is ever built.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Self

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtri

from player.models import Track
from recommender.metric import LEARNED_SHARE, LearnedMetric, learn
from recommender.source import DESCRIPTOR_NAMES, FeatureMatrix

DEFAULT_GROUP_WEIGHTS: Mapping[str, float] = {
    "timbre": 1.0, "harmony": 0.8, "rhythm": 0.9, "texture": 0.8, "loudness": 0.5,
    "structure": 0.8,
}
# Metadata token weights: sharing an artist says more than sharing a decade.
FIELD_WEIGHTS: Mapping[str, float] = {
    "genre": 1.0, "artist": 1.0, "albumartist": 0.5, "composer": 0.8, "era": 0.4, "era~": 0.2,
}
# Audio cosine above which two tracks are the same recording (a copy, a re-encode).
DUPLICATE_AUDIO_SIM = 0.995
_VARIOUS = {"various artists", "various", "va"}
_TEMPO = DESCRIPTOR_NAMES.index("tempo_bpm")
_KEY = DESCRIPTOR_NAMES.index("key")
_MODE = DESCRIPTOR_NAMES.index("mode")


TOP_SAMPLE_STRIDE = 64  # top-k: every 64th score is read to set a threshold...
TOP_MARGIN = 4  # ...that about 4 x k scores pass
COARSE_SAMPLE = 20_000  # analysed rows read to find the sound's main directions
RANK_KNOTS = 1024  # library rows sampled to rank every track against: a 0.1% resolution


def gaussian_ranks(vectors: np.ndarray) -> np.ndarray:
    """Return each column as the standard normal quantiles of its ranks in the library.

    A column's spread then says where a track stands among the others, not how far its
    outliers reach: one track with a huge value no longer squeezes the rest together,
    and skewed or two-valued columns (tempo, mode) weigh like the others. Ties share a
    rank (the middle of their run) and a constant column is all zeros. The ranks are taken
    against at most RANK_KNOTS sampled rows, interpolated in between: about 1 s at
    100,000 tracks. bench/eval_similarity.py: precision@10 0.649 -> 0.667 over z-scores
    on 287 pieces, 0.657 -> 0.675 on 516.
    """
    x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).T)  # (columns, rows)
    n = x.shape[1]
    sample = np.sort(x[:, :: max(1, n // RANK_KNOTS)], axis=1)
    m = sample.shape[1]
    out = np.zeros_like(x)
    for j in range(x.shape[0]):
        values, first, count = np.unique(sample[j], return_index=True, return_counts=True)
        if values.size < 2:
            continue  # a constant column carries no information: zeros
        cdf = (first + count / 2.0) / m  # the middle of each run of ties
        out[j] = ndtri(np.clip(np.interp(x[j], values, cdf), 0.5 / m, 1.0 - 0.5 / m))
    return np.ascontiguousarray(out.T)


def z_scores(vectors: np.ndarray) -> np.ndarray:
    """Return each column minus its mean over its standard deviation (constant: zeros)."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.shape[0] == 0:
        return x
    std = x.std(axis=0)
    std[std < 1e-6] = 1.0  # a constant column carries no information; keep it at 0
    return (x - x.mean(axis=0)) / std


def default_groups(dim: int) -> dict[str, tuple[int, ...]]:
    """Return the feature groups of recommender.features that lay out dim columns (all of
    them, or those of a compatible older version's prefix), else one group."""
    from recommender.features import FEATURE_GROUPS  # librosa: only when asked

    groups = {str(k): tuple(int(i) for i in v) for k, v in dict(FEATURE_GROUPS).items()}
    fitting = {k: v for k, v in groups.items() if all(0 <= i < dim for i in v)}
    if fitting and sorted(i for v in fitting.values() for i in v) == list(range(dim)):
        return fitting
    return {"sound": tuple(range(dim))}


def normalise_text(text: str | None) -> str:
    """Return text case-folded, accents and bracketed asides removed, punctuation squashed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[\(\[][^\)\]]*[\)\]]", " ", text)  # "(Remastered 2011)", "[live]"
    text = re.sub(r"\s+-\s+(remaster(ed)?|live|radio edit|single version|mono|stereo).*$", " ", text)
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def primary_artist(track: Track) -> str:
    """Return the track's first artist, normalised ("" when untagged)."""
    name = track.artists[0] if track.artists else (track.artist or "")
    return normalise_text(name.split(";")[0])


def duplicate_key(track: Track) -> str:
    """Return the key two versions of the same song share: normalised title and artist."""
    artist = primary_artist(track)
    title = normalise_text(track.title)
    return f"{artist}\x1f{title}" if artist and title else ""


def album_key(track: Track) -> str:
    """Return a key shared by the tracks of one album ("" when unknown)."""
    if not track.album:
        return ""
    return normalise_text(track.albumartist or track.artist) + "\x1f" + normalise_text(track.album)


def genre_names(track: Track) -> list[str]:
    """Return a track's genres, normalised, "Rock; Pop" and "Rock/Pop" split alike."""
    return [norm for g in track.genres for part in re.split(r"[;/,]", g)
            if (norm := normalise_text(part))]


def genre_label(track: Track | None) -> str:
    """Return the track's first genre, normalised ("" when untagged): its class for the
    sound space learned from the tags (recommender.metric)."""
    names = genre_names(track) if track is not None else []
    return names[0] if names else ""


def metadata_tokens(track: Track) -> dict[str, float]:
    """Return the weighted metadata tokens of a track (empty when untagged)."""
    tokens: dict[str, float] = {}
    for norm in genre_names(track):
        tokens[f"genre:{norm}"] = FIELD_WEIGHTS["genre"]
    names = track.artists or ((track.artist,) if track.artist else ())
    for a in names:
        for part in a.split(";"):
            if (norm := normalise_text(part)) and norm not in _VARIOUS:
                tokens[f"artist:{norm}"] = FIELD_WEIGHTS["artist"]
    if (aa := normalise_text(track.albumartist)) and aa not in _VARIOUS:
        tokens[f"albumartist:{aa}"] = FIELD_WEIGHTS["albumartist"]
    if c := normalise_text(track.composer):
        tokens[f"composer:{c}"] = FIELD_WEIGHTS["composer"]
    if track.year and 1000 < track.year < 3000:
        decade = track.year // 10 * 10
        tokens[f"era:{decade}"] = FIELD_WEIGHTS["era"]
        # Neighbouring decades share a softer token, so 1969 and 1971 are close.
        for d in (decade - 10, decade + 10):
            tokens[f"era~:{min(d, decade)}-{max(d, decade)}"] = FIELD_WEIGHTS["era~"]
    return tokens


class ContentSimilarity:
    """Similarity of any two library tracks by sound and tags; top-k by brute force."""

    def __init__(
        self,
        groups: Mapping[str, Sequence[int]] | None = None,
        group_weights: Mapping[str, float] | None = None,
        audio_weight: float = 0.65,
        metadata_weight: float = 0.35,
        learn_metric: bool = True,
        coarse_dims: int = 32,
        coarse_min_rows: int = 20_000,
    ) -> None:
        self.groups = groups
        self.coarse_dims = coarse_dims
        self.coarse_min_rows = coarse_min_rows
        self.learn_metric = learn_metric
        self.group_weights = group_weights
        self.audio_weight = audio_weight
        self.metadata_weight = metadata_weight

    def fit(self, tracks: Sequence[Track], features: FeatureMatrix) -> Self:
        """Index every track (all of tracks, plus analysed ones); features may be empty."""
        ids = np.union1d(
            np.fromiter((t.id for t in tracks), np.int64, len(tracks)), features.ids
        ).astype(np.int64)
        self.track_ids_ = ids
        n = ids.shape[0]
        by_id = {int(t.id): t for t in tracks}
        self.tracks_: list[Track | None] = [by_id.get(int(i)) for i in ids]

        rows = np.searchsorted(ids, features.ids)
        dim = int(features.vectors.shape[1]) if len(features) else 0
        groups = dict(self.groups) if self.groups is not None else default_groups(dim)
        weights = dict(DEFAULT_GROUP_WEIGHTS)
        weights.update(self.group_weights or {})
        self.group_names_ = tuple(groups)
        audio, self.group_bounds_, norms = self._embed_audio(
            gaussian_ranks(features.vectors), groups, weights)
        # Whether two tracks are the same recording is a question of their values, not of
        # their ranks: in a small library, two copies of a track are neighbours in every
        # column's ranking, yet as far apart as any two neighbours. So duplicates are told
        # on plain z-scores (float16 is plenty to tell a cosine of 0.995).
        recording = self._embed_audio(z_scores(features.vectors), groups, weights)[0]
        # The library's genre tags may teach the space which sounds matter (recommender.metric).
        self.metric_: LearnedMetric | None = None
        if self.learn_metric and len(features):
            self.metric_ = learn(audio, [genre_label(by_id.get(int(i))) for i in features.ids])
        if self.metric_ is not None:
            audio = self.metric_.apply(audio)
        # The factor on the unsupervised block, to read its standardised values back.
        self.block_share_ = float(np.sqrt(1.0 - LEARNED_SHARE)) if self.metric_ else 1.0
        self.audio_ = audio
        self.row_norm_ = np.zeros(n, np.float32)
        self.row_norm_[rows] = norms
        self.has_audio_ = np.zeros(n, bool)
        self.has_audio_[rows] = np.linalg.norm(self.audio_, axis=1) > 0
        full = np.zeros((n, self.audio_.shape[1]), np.float32)
        full[rows] = self.audio_
        self.audio_ = full
        self.coarse_, self.coarse_energy_ = self._coarse_index(rows)
        self.recording_ = np.zeros((n, recording.shape[1]), np.float16)
        self.recording_[rows] = recording
        self.descriptors_ = np.full((n, len(DESCRIPTOR_NAMES)), np.nan, np.float32)
        if len(features):
            self.descriptors_[rows] = features.descriptors

        self.meta_, self.vocab_ = self._embed_metadata(self.tracks_)
        self.has_meta_ = np.diff(self.meta_.indptr) > 0
        # Each space's share of a candidate's score against a seed that has both spaces.
        wa = self.audio_weight * self.has_audio_
        wm = self.metadata_weight * self.has_meta_
        total = wa + wm
        self.nothing_ = total == 0
        self.incomplete_ = bool((~self.has_audio_).any() or (~self.has_meta_).any())
        self.share_audio_ = np.divide(wa, total, out=np.zeros(n), where=total > 0).astype(np.float32)
        self.share_meta_ = np.divide(wm, total, out=np.zeros(n), where=total > 0).astype(np.float32)
        self.dup_keys_ = [duplicate_key(t) if t else "" for t in self.tracks_]
        # The keys as numbers, compared vectorised (0 = no key); equal hashes of different
        # strings are checked against the strings before calling two tracks duplicates.
        self.dup_hash_ = np.fromiter((hash(k) if k else 0 for k in self.dup_keys_), np.int64, n)
        self.artist_keys_ = [primary_artist(t) if t else "" for t in self.tracks_]
        # Files the analysis could not use: never offered (recommender.picks.banned_mask).
        self.analysis_failed_ = np.fromiter(
            (t is not None and t.analysis_failed for t in self.tracks_), bool, len(self.tracks_))
        self.album_keys_ = [album_key(t) if t else "" for t in self.tracks_]
        return self

    @staticmethod
    def _embed_audio(
        z: np.ndarray, groups: Mapping[str, Sequence[int]], weights: Mapping[str, float]
    ) -> tuple[np.ndarray, list[tuple[str, int, int, float]], np.ndarray]:
        """Return unit rows with the standardised columns z in group blocks side by side,
        each block's bounds and scale, and the row norms before normalising."""
        if z.shape[0] == 0 or z.shape[1] == 0:
            return np.zeros((z.shape[0], 0), np.float32), [], np.zeros(z.shape[0], np.float32)
        blocks: list[np.ndarray] = []
        spans: list[tuple[str, int, int]] = []
        start = 0
        for name, idx in groups.items():
            idx = list(idx)
            if not idx:
                continue
            scale = np.sqrt(weights.get(name, 1.0) / len(idx))
            blocks.append(z[:, idx] * np.float32(scale))
            spans.append((name, start, start + len(idx)))
            start += len(idx)
        emb = np.ascontiguousarray(np.concatenate(blocks, axis=1), dtype=np.float32)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        np.divide(emb, norms, out=emb, where=norms > 0)
        # Kept to recover the standardised values of a block for explanations.
        scales = [float(np.sqrt(weights.get(name, 1.0) / (hi - lo))) for name, lo, hi in spans]
        bounds = [(name, lo, hi, sc) for (name, lo, hi), sc in zip(spans, scales, strict=True)]
        return emb, bounds, norms.ravel()

    def _coarse_index(self, analysed: np.ndarray) -> tuple[np.ndarray | None, float]:
        """Return every row's sound in its coarse_dims main directions (None in a small
        library) and the share of the sound's energy those directions hold; analysed:
        the rows with a sound.

        The directions are those of the analysed rows' second moment, so that dot products
        in them estimate the cosines. Play similar ranks a large library on these (a third
        of the memory to read) and recomputes the best rows exactly (seed_scores).
        """
        dim = self.audio_.shape[1]
        if analysed.shape[0] < max(self.coarse_min_rows, 1) or dim <= self.coarse_dims:
            return None, 1.0
        step = max(1, analysed.shape[0] // COARSE_SAMPLE)
        sample = self.audio_[analysed[::step]].astype(np.float64)
        values, vectors = np.linalg.eigh(sample.T @ sample)
        order = np.argsort(values)[::-1][: self.coarse_dims]
        basis = vectors[:, order].astype(np.float32)
        energy = float(values[order].sum() / max(values.sum(), 1e-12))
        return np.ascontiguousarray(self.audio_ @ basis), energy

    @staticmethod
    def _embed_metadata(tracks: Sequence[Track | None]) -> tuple[sp.csr_matrix, list[str]]:
        """Return the unit-length sparse token matrix (n, vocab) and the vocabulary."""
        vocab: dict[str, int] = {}
        indptr, indices, data = [0], [], []
        for t in tracks:
            tokens = metadata_tokens(t) if t else {}
            norm = float(np.sqrt(sum(w * w for w in tokens.values()))) or 1.0
            for tok, w in tokens.items():
                indices.append(vocab.setdefault(tok, len(vocab)))
                data.append(w / norm)
            indptr.append(len(indices))
        m = sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int32), np.asarray(indptr, np.int64)),
            shape=(len(tracks), max(len(vocab), 1)),
        )
        return m, list(vocab)

    # -- lookups -------------------------------------------------------------------------
    def rows_of(self, track_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the row of each id, -1 for ids not indexed."""
        ids = np.asarray(track_ids, np.int64)
        if self.track_ids_.shape[0] == 0:
            return np.full(ids.shape, -1, np.int64)
        pos = np.clip(np.searchsorted(self.track_ids_, ids), 0, self.track_ids_.shape[0] - 1)
        return np.where(self.track_ids_[pos] == ids, pos, -1)

    def __len__(self) -> int:
        return int(self.track_ids_.shape[0])

    # -- scoring -------------------------------------------------------------------------
    def seed_scores(self, rows: Sequence[int] | np.ndarray, shortlist: int = 0,
                    exact: np.ndarray | None = None) -> np.ndarray:
        """Return the similarity of every track to each seed row, shape (n, len(rows)).

        Each pair is scored in the spaces both tracks have (sound, tags or both), in
        [-1, 1]; -1 where the two have nothing to compare.

        shortlist: only the best rows matter (a top-k of about that many follows). In a
        large library the sound is then compared in its main directions (coarse_), and
        exactly for at least the shortlist best rows of each seed, and for the rows in
        exact (those another signal may lift into the top); the other rows keep the
        estimate.
        """
        rows = np.asarray(rows, np.int64)
        n = len(self)
        if rows.size == 0:
            return np.zeros((n, 0), np.float32)
        audio_seeds = self.has_audio_[rows] if self.audio_.shape[1] else np.zeros(rows.size, bool)
        coarse = self.coarse_ if shortlist > 0 and audio_seeds.any() else None
        out = self._seed_scores(rows, audio_seeds, self.audio_ if coarse is None else coarse)
        if coarse is not None:
            self._refine(out, rows, audio_seeds, coarse, shortlist, exact)
        return out

    def _refine(self, out: np.ndarray, rows: np.ndarray, audio_seeds: np.ndarray,
                coarse: np.ndarray, shortlist: int, exact_rows: np.ndarray | None) -> None:
        """Replace the coarse sound estimate by the exact cosine on each seed's best rows
        (and on exact_rows)."""
        for j in np.flatnonzero(audio_seeds):
            seed = int(rows[j])
            found = _above_sampled_threshold(out[:, j], shortlist)
            if found is not None and exact_rows is not None and exact_rows.size:
                found = np.union1d(found, exact_rows)
            best: np.ndarray | slice = slice(None) if found is None else found  # None: all
            exact = self.audio_[best] @ self.audio_[seed]
            exact -= coarse[best] @ coarse[seed]
            if self.has_meta_[seed]:  # the sound's share of the blend, row by row
                exact *= self.share_audio_[best]
            out[best, j] += exact

    def _seed_scores(self, rows: np.ndarray, audio_seeds: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """seed_scores with the sound compared in the columns of audio (all or coarse)."""
        n = len(self)
        meta_seeds = self.has_meta_[rows]
        sa = audio @ audio[rows].T if audio_seeds.any() else None  # (n, k) float32
        # csr @ dense is one pass over the matrix; sparse @ sparse would allocate per row.
        sm = np.asarray(self.meta_ @ self._meta_queries(rows), np.float32) if meta_seeds.any() else None
        if sa is not None and sm is not None and audio_seeds.all() and meta_seeds.all():
            # The usual case (every seed analysed and tagged): in place, no copies.
            sa *= self.share_audio_[:, None]
            sm *= self.share_meta_[:, None]
            sa += sm
            if self.incomplete_:
                sa[self.nothing_] = -1.0
            return np.asarray(sa)
        out = np.empty((n, rows.size), np.float32)
        for kind, share_a, share_m, missing in (
            ("both", self.share_audio_, self.share_meta_, self.nothing_),
            ("audio", None, None, ~self.has_audio_),
            ("meta", None, None, ~self.has_meta_),
        ):
            cols = np.flatnonzero({
                "both": audio_seeds & meta_seeds,
                "audio": audio_seeds & ~meta_seeds,
                "meta": ~audio_seeds & meta_seeds,
            }[kind])
            if cols.size == 0:
                continue
            if kind == "both":
                assert sa is not None and sm is not None and share_a is not None and share_m is not None
                block = sa[:, cols] * share_a[:, None]
                block += sm[:, cols] * share_m[:, None]
            else:
                src = sa if kind == "audio" else sm
                assert src is not None
                block = src[:, cols]
            if self.incomplete_:  # some tracks lack a space: they get -1 where they have none
                block[missing] = -1.0
            out[:, cols] = block
        out[:, ~(audio_seeds | meta_seeds)] = -1.0
        return out

    def _meta_queries(self, rows: np.ndarray) -> np.ndarray:
        """Return the seeds' token vectors as a dense (vocab, k) matrix."""
        q = np.zeros((self.meta_.shape[1], rows.size), np.float32)
        ptr, ind, dat = self.meta_.indptr, self.meta_.indices, self.meta_.data
        for j, r in enumerate(rows):
            q[ind[ptr[r]:ptr[r + 1]], j] = dat[ptr[r]:ptr[r + 1]]
        return q

    def scores(self, rows: Sequence[int] | np.ndarray, weights: Sequence[float] | None = None) -> np.ndarray:
        """Return the weighted mean similarity of every track to the seeds, shape (n,)."""
        per_seed = self.seed_scores(rows)
        if per_seed.shape[1] == 0:
            return np.zeros(len(self), np.float32)
        w = np.ones(per_seed.shape[1], np.float32) if weights is None else np.asarray(weights, np.float32)
        total = float(np.abs(w).sum()) or 1.0
        return (per_seed @ w) / np.float32(total)

    def top(self, scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
        """Return the rows of the k best scores, best first (excluded rows never)."""
        s = np.asarray(scores, np.float32) if exclude is None else np.where(exclude, np.float32(-np.inf), scores)
        finite = s > -np.inf
        n_finite = int(np.count_nonzero(finite))
        k = min(k, n_finite)
        if k <= 0:
            return np.zeros(0, np.int64)
        cand: np.ndarray | None
        if n_finite < s.shape[0] // 2:
            # Mostly excluded: partition the few candidates (introselect degrades on the
            # long run of equal -inf values).
            cand = np.flatnonzero(finite)
        else:
            cand = _above_sampled_threshold(s, k)
        if cand is None:
            part = np.argpartition(s, s.shape[0] - k)[s.shape[0] - k:]
        else:
            sub = s[cand]
            part = cand[np.argpartition(sub, sub.size - k)[sub.size - k:]] if k < sub.size else cand
        part = part[s[part] > -np.inf]
        return part[np.argsort(-s[part], kind="stable")]

    def similar(self, row: int, k: int) -> np.ndarray:
        """Return the k rows most similar to row (not row itself), best first."""
        s = self.seed_scores([row])[:, 0]
        exclude = np.zeros(len(self), bool)
        exclude[row] = True
        return self.top(s, k, exclude)

    # -- duplicates and explanations -----------------------------------------------------
    def is_duplicate(self, a: int, b: int) -> bool:
        """Return True when rows a and b are the same song (same title and artist, or sound)."""
        if a == b:
            return True
        key = self.dup_keys_[a]
        if key and key == self.dup_keys_[b]:
            return True
        if self.has_audio_[a] and self.has_audio_[b]:
            return bool(self.sounds_the_same(np.array([a]), b)[0])
        return False

    def sounds_the_same(self, rows: np.ndarray, of: int) -> np.ndarray:
        """Return, for each of rows, whether its audio is near-identical to row of's."""
        cos = self.recording_[rows].astype(np.float32) @ self.recording_[of].astype(np.float32)
        return (cos >= DUPLICATE_AUDIO_SIM) & self.has_audio_[rows] & self.has_audio_[of]

    def group_similarity(self, a: int, b: int) -> dict[str, float]:
        """Return how alike rows a and b are within each audio group (both analysed).

        1 - (mean squared difference of the standardised values) / 2: 1 for the same
        values, about 0 for two random tracks, whatever the size of the group.
        """
        out: dict[str, float] = {}
        if not (self.has_audio_[a] and self.has_audio_[b]):
            return out
        for name, lo, hi, scale in self.group_bounds_:
            za = self.audio_[a, lo:hi] * (self.row_norm_[a] / scale / self.block_share_)
            zb = self.audio_[b, lo:hi] * (self.row_norm_[b] / scale / self.block_share_)
            out[name] = 1.0 - float(np.mean((za - zb) ** 2)) / 2.0
        return out

    def group_similarity_many(self, a: np.ndarray, b: np.ndarray) -> list[dict[str, float]]:
        """Return group_similarity for each pair (a[i], b[i]) in one vectorised pass."""
        a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
        both = self.has_audio_[a] & self.has_audio_[b]
        out: list[dict[str, float]] = [{} for _ in range(a.size)]
        for name, lo, hi, scale in self.group_bounds_:
            za = self.audio_[a, lo:hi] * (self.row_norm_[a] / scale / self.block_share_)[:, None]
            zb = self.audio_[b, lo:hi] * (self.row_norm_[b] / scale / self.block_share_)[:, None]
            sims = 1.0 - np.mean((za - zb) ** 2, axis=1) / 2.0
            for i in np.flatnonzero(both):
                out[i][name] = float(sims[i])
        return out

    def shared_aspects(self, a: int, b: int, limit: int = 2,
                       groups: dict[str, float] | None = None) -> list[str]:
        """Return what rows a and b have in common, strongest first, in words.

        E.g. ["timbre", "tempo"], ["genre jazz"], ["artist"]: only real evidence.
        groups: group_similarity(a, b) when already computed.
        """
        scored: list[tuple[float, str]] = []
        for name, sim in (self.group_similarity(a, b) if groups is None else groups).items():
            if sim >= 0.75:
                label = "sound" if name == "sound" else name
                scored.append((sim, label))
        da, db = self.descriptors_[a], self.descriptors_[b]
        ta, tb = da[_TEMPO], db[_TEMPO]
        if np.isfinite(ta) and np.isfinite(tb) and ta > 0 and tb > 0:
            ratio = abs(np.log2(ta / tb))
            if ratio < 0.06:
                scored.append((0.95 - ratio, "tempo"))
        if np.isfinite(da[_KEY]) and da[_KEY] == db[_KEY] and da[_MODE] == db[_MODE]:
            scored.append((0.7, "key"))
        ta_tok = set(self._tokens(a))
        tb_tok = set(self._tokens(b))
        common = ta_tok & tb_tok
        for tok in sorted(common):
            field, _, value = tok.partition(":")
            if field == "artist":
                scored.append((0.9, "artist"))
            elif field == "genre":
                scored.append((0.85, f"genre ({value})"))
            elif field == "composer":
                scored.append((0.8, "composer"))
            elif field == "era":
                scored.append((0.5, f"era ({value}s)"))
        scored.sort(key=lambda p: -p[0])
        seen: list[str] = []
        for _, label in scored:
            if label not in seen:
                seen.append(label)
        return seen[:limit]

    def _tokens(self, row: int) -> list[str]:
        lo, hi = self.meta_.indptr[row], self.meta_.indptr[row + 1]
        return [self.vocab_[i] for i in self.meta_.indices[lo:hi]]


def _above_sampled_threshold(s: np.ndarray, k: int) -> np.ndarray | None:
    """Return the rows of s scoring at least a threshold that about TOP_MARGIN x k rows
    pass, read off a strided sample; None when that is no cheaper or too few passed.

    Exact: when k rows or more pass, the k best are among them. A partition of the whole
    array costs about 1 ms at 100,000 rows; one comparison pass costs a twentieth of that.
    """
    n = s.shape[0]
    stride = TOP_SAMPLE_STRIDE
    q = TOP_MARGIN * k // stride + 1  # the sample's rank that about TOP_MARGIN x k rows pass
    m = -(-n // stride)
    if q * 8 > m:  # k is a large part of the rows: the full partition is as cheap
        return None
    sample = s[::stride]
    threshold = np.partition(sample, m - q)[m - q]
    if not threshold > -np.inf:
        return None
    cand = np.flatnonzero(s >= threshold)
    return cand if cand.size >= k else None


def join_words(words: Sequence[str]) -> str:
    """Return "a", "a and b", "a, b and c"."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
