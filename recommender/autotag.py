"""Auto-tagging: predict genre and mood for untagged tracks from the tagged ones.

An MLPClassifier reads a track's standardised audio features plus its artist and album
artist hashed into a few buckets (a track by an artist whose other tracks are tagged is
easy). Predictions become suggestions with a confidence (the class probability); they
are stored by player/suggestions_store.py and reach a file only when the user accepts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from sklearn.feature_extraction import FeatureHasher
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from player.models import Track, TrackId

FORMAT = 1
META_BUCKETS = 16
MIN_PER_LABEL = 3  # a label with fewer tagged tracks is never suggested
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class TagGuess:
    """A predicted tag for one track."""

    track_id: TrackId
    field: str  # genre | mood
    value: str
    confidence: float


def normalise(value: str) -> str:
    """Return the form labels are compared in (case and spacing ignored)."""
    return " ".join(value.split()).casefold()


class AutoTagger:
    """One tag field (genre or mood) predicted from audio features and the artist."""

    def __init__(self, hidden_layer_sizes: tuple[int, ...] = (64,), alpha: float = 1e-2,
                 use_artist: bool = True, random_state: int = 0) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.use_artist = use_artist
        self.random_state = random_state
        self._hasher = FeatureHasher(n_features=META_BUCKETS, input_type="string")

    def _inputs(self, vectors: np.ndarray, tracks: Sequence[Track | None]) -> np.ndarray:
        audio = np.asarray(np.clip(self.scaler_.transform(vectors), -5, 5))
        if not self.use_artist:
            return audio
        tokens = [[f"a={normalise(a)}" for a in ((t.artist, t.albumartist) if t else ()) if a]
                  for t in tracks]
        return np.hstack([audio, self._hasher.transform(tokens).toarray()])

    def fit(self, vectors: np.ndarray, tracks: Sequence[Track | None],
            labels: Sequence[str]) -> Self:
        """Learn labels from tagged tracks: vectors (n, n_features), one label each."""
        counts = Counter(normalise(v) for v in labels)
        keep = [i for i, v in enumerate(labels) if counts[normalise(v)] >= MIN_PER_LABEL]
        if len({normalise(labels[i]) for i in keep}) < 2:
            raise ValueError(f"needs at least 2 labels with {MIN_PER_LABEL} tagged tracks each")
        # The spelling most tracks use is the one suggested (and written, if accepted).
        spelling: dict[str, Counter[str]] = {}
        for i in keep:
            spelling.setdefault(normalise(labels[i]), Counter())[labels[i].strip()] += 1
        self.spelling_ = {k: c.most_common(1)[0][0] for k, c in spelling.items()}
        self.scaler_ = StandardScaler().fit(vectors)
        X = self._inputs(vectors[keep], [tracks[i] for i in keep])
        y = [normalise(labels[i]) for i in keep]
        self.mlp_ = MLPClassifier(hidden_layer_sizes=self.hidden_layer_sizes, alpha=self.alpha,
                                  max_iter=400, random_state=self.random_state).fit(X, y)
        return self

    def predict(
        self, vectors: np.ndarray, tracks: Sequence[Track | None]
    ) -> list[tuple[str, float]]:
        """Return the best label and its probability for each row of vectors."""
        if len(vectors) == 0:
            return []
        proba = self.mlp_.predict_proba(self._inputs(vectors, tracks))
        best = proba.argmax(axis=1)
        return [(self.spelling_[str(self.mlp_.classes_[b])], float(proba[i, b]))
                for i, b in enumerate(best)]


def nearest_neighbour_accuracy(train_x: np.ndarray, train_y: Sequence[str],
                               test_x: np.ndarray, test_y: Sequence[str], k: int = 1) -> float:
    """Return the accuracy of a k-nearest-neighbour tagger on standardised audio (baseline)."""
    scaler = StandardScaler().fit(train_x)
    knn = KNeighborsClassifier(n_neighbors=k).fit(scaler.transform(train_x),
                                                  [normalise(v) for v in train_y])
    pred = knn.predict(scaler.transform(test_x))
    return float(np.mean([p == normalise(t) for p, t in zip(pred, test_y, strict=True)]))


def held_out_accuracy(vectors: np.ndarray, tracks: Sequence[Track | None], labels: Sequence[str],
                      seed: int = 0) -> dict[str, Any]:
    """Return the auto-tagger's and the 1-NN baseline's accuracy on 25% held-out tags."""
    counts = Counter(normalise(v) for v in labels)
    keep = [i for i, v in enumerate(labels) if counts[normalise(v)] >= MIN_PER_LABEL + 1]
    if len({normalise(labels[i]) for i in keep}) < 2:
        return {"n_test": 0, "accuracy": None, "nearest_neighbour": None}
    tr, te = train_test_split(keep, test_size=0.25, random_state=seed,
                              stratify=[normalise(labels[i]) for i in keep])
    model = AutoTagger(random_state=seed).fit(vectors[tr], [tracks[i] for i in tr],
                                              [labels[i] for i in tr])
    pred = model.predict(vectors[te], [tracks[i] for i in te])
    acc = float(np.mean([normalise(p) == normalise(labels[i])
                         for (p, _), i in zip(pred, te, strict=True)]))
    nn = nearest_neighbour_accuracy(vectors[tr], [labels[i] for i in tr], vectors[te],
                                    [labels[i] for i in te])
    return {"n_test": len(te), "accuracy": acc, "nearest_neighbour": nn}


def suggest(
    tracks: Sequence[Track], features: Mapping[TrackId, np.ndarray],
    moods: Mapping[TrackId, Sequence[str]], *, min_confidence: float = MIN_CONFIDENCE,
    evaluate: bool = True,
) -> tuple[list[TagGuess], dict[str, Any]]:
    """Predict genre and mood for analysed tracks that have none.

    Returns the guesses at or above min_confidence and a report per field (how many
    tagged tracks trained it, its held-out accuracy against 1-NN, how many guesses).
    """
    guesses: list[TagGuess] = []
    report: dict[str, Any] = {}
    analysed = [t for t in tracks if t.id in features]
    for field in ("genre", "mood"):
        def label_of(t: Track, field: str = field) -> str | None:
            values = t.genres if field == "genre" else moods.get(t.id, ())
            return values[0] if values else None

        tagged = [t for t in analysed if label_of(t)]
        untagged = [t for t in analysed if not label_of(t)]
        info: dict[str, Any] = {"tagged": len(tagged), "untagged": len(untagged), "suggested": 0}
        report[field] = info
        if not tagged or not untagged:
            continue
        x = np.array([features[t.id] for t in tagged], np.float64)
        labels = [label_of(t) or "" for t in tagged]
        try:
            model = AutoTagger().fit(x, list(tagged), labels)
        except ValueError as exc:
            info["why"] = str(exc)
            continue
        if evaluate:
            info.update(held_out_accuracy(x, list(tagged), labels))
        ux = np.array([features[t.id] for t in untagged], np.float64)
        for t, (value, conf) in zip(untagged, model.predict(ux, list(untagged)), strict=True):
            if conf >= min_confidence:
                guesses.append(TagGuess(t.id, field, value, conf))
                info["suggested"] += 1
    return guesses, report
