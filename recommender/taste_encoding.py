"""The inputs of the taste model (recommender/taste.py): one play, or one candidate track in
a context, encoded as a row of numbers.

A row holds, all standardised:
- the track's audio feature vector (the FEATURE_NAMES layout of recommender/features.py),
- a metadata embedding: artist and genres hashed into a few signed buckets,
- the context: hour of day and weekday as sin/cos, the previous track's descriptors
  (tempo, brightness, energy, key...) and the distance to them, when it was played within
  the same session.
Short histories are augmented: each play also yields its track's other analysis windows
and a few jittered copies, in standard units.

PlayEncoder is the base class of TasteModel: it holds no state of its own, so a saved
model keeps the layout it had when the encoding lived in the model's module.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction import FeatureHasher
from sklearn.preprocessing import StandardScaler

from player.models import Play, Track, TrackId
from recommender.taste_data import SESSION_GAP_S, TasteData, artist_of, play_label

META_BUCKETS = 32
# What the previous track contributes to the context (FEATURE_NAMES of the analysis).
TRANSITION_NAMES = ("tempo_bpm", "brightness", "energy", "loudness_db", "danceability",
                    "acousticness", "key_fifths_cos", "key_fifths_sin")


def context_vector(at: float) -> np.ndarray:
    """Return hour of day and weekday as points on circles, shape (4,)."""
    t = time.localtime(at)
    hour = t.tm_hour + t.tm_min / 60.0
    return np.array(
        [math.sin(2 * math.pi * hour / 24), math.cos(2 * math.pi * hour / 24),
         math.sin(2 * math.pi * t.tm_wday / 7), math.cos(2 * math.pi * t.tm_wday / 7)],
        dtype=np.float32,
    )


def meta_tokens(track: Track | None) -> list[str]:
    """Return the artist and genre tokens of a track that the metadata embedding hashes."""
    if track is None:
        return []
    tokens = [f"artist={a.casefold()}" for a in (track.artists or (track.artist,)) if a]
    tokens += [f"genre={g.casefold()}" for g in track.genres if g]
    return tokens


@dataclass
class Examples:
    """Encoded plays: inputs (n, n_inputs), labels (n,), and what baselines need."""

    X: np.ndarray
    y: np.ndarray
    artists: list[str]
    at: np.ndarray
    track_ids: list[TrackId]


class PlayEncoder:
    """Turn plays and candidate tracks in context into the inputs of the taste model.

    The subclass sets the attributes below (in `__init__`, and `scaler_` and `augment_`
    when it is fitted).
    """

    feature_names: tuple[str, ...]
    n_augment: int
    noise: float
    scaler_: StandardScaler
    augment_: bool
    _hasher: FeatureHasher

    def _audio(self, vector: np.ndarray) -> np.ndarray:
        z = self.scaler_.transform(np.asarray(vector, dtype=np.float64).reshape(1, -1))[0]
        return np.asarray(np.clip(z, -5, 5), np.float32)  # a freak value must not dominate

    def _descriptor_columns(self) -> list[int]:
        """Return the columns that describe a transition (tempo, brightness, energy...)."""
        found = [self.feature_names.index(n) for n in TRANSITION_NAMES if n in self.feature_names]
        return found or list(range(min(6, len(self.feature_names))))

    def _assemble(
        self, audio: np.ndarray, tokens: Sequence[list[str]], at: float,
        prev_audio: np.ndarray | None,
    ) -> np.ndarray:
        """Return the inputs (n, n_inputs) of standardised vectors (n, n_features) in context.

        The previous track enters only through a few descriptors and how far each track
        moves from them: its whole vector would double the inputs for little gain.
        """
        n = audio.shape[0]
        cols = self._descriptor_columns()
        meta = self._hasher.transform(tokens).toarray()
        if prev_audio is None:
            tail = np.zeros((n, 2 * len(cols) + 1))
        else:
            prev = np.tile(prev_audio[cols], (n, 1))
            tail = np.hstack([prev, np.abs(audio[:, cols] - prev), np.ones((n, 1))])
        head = np.tile(context_vector(at), (n, 1))
        return np.hstack([audio, meta, head, tail]).astype(np.float32)

    def _n_inputs(self) -> int:
        return len(self.feature_names) + META_BUCKETS + 4 + 2 * len(self._descriptor_columns()) + 1

    def _encode_plays(
        self, data: TasteData, plays: Sequence[Play], *, previous: Play | None = None,
        augment: bool = False, rng: np.random.Generator | None = None,
    ) -> Examples:
        """Encode labelled plays (the previous track comes from the play before each)."""
        rows: list[np.ndarray] = []
        labels: list[int] = []
        artists: list[str] = []
        ats: list[float] = []
        ids: list[TrackId] = []
        last = previous
        for play in plays:
            prev_play, last = last, play
            if play.track_id is None or play.track_id not in data.features:
                continue
            label = play_label(play, data.liked, data.banned)
            if label is None:
                continue
            prev_audio = None
            if (prev_play is not None and prev_play.track_id in data.features
                    and play.started_at - prev_play.started_at < SESSION_GAP_S + (
                        prev_play.duration_s or 0)):
                prev_audio = self._audio(data.features[prev_play.track_id])  # type: ignore[index]
            track = data.tracks.get(play.track_id)
            audio = self._audio(data.features[play.track_id])[None, :]
            if augment and self.augment_:
                assert rng is not None
                windows = data.windows.get(play.track_id)
                if windows is not None and len(windows):
                    audio = np.vstack(
                        [audio] + [self._audio(w)[None, :] for w in np.atleast_2d(windows)]
                    )
                # Small perturbations, in standard units, so a short history still trains.
                jitter = audio[rng.integers(0, len(audio), self.n_augment)]
                jitter = jitter + rng.normal(0, self.noise, jitter.shape).astype(np.float32)
                audio = np.vstack([audio, jitter])
            if augment and self.augment_ and prev_audio is not None:
                assert rng is not None
                prev_audio = prev_audio + rng.normal(0, self.noise, prev_audio.shape).astype(
                    np.float32)
            block = self._assemble(audio, [meta_tokens(track)] * len(audio), play.started_at,
                                   prev_audio)
            rows.append(block)
            labels += [label] * len(block)
            artists += [artist_of(play, data)] * len(block)
            ats += [play.started_at] * len(block)
            ids += [play.track_id] * len(block)
        return Examples(
            X=np.vstack(rows) if rows else np.zeros((0, self._n_inputs()), np.float32),
            y=np.array(labels, dtype=np.int64), artists=artists, at=np.array(ats),
            track_ids=ids,
        )
