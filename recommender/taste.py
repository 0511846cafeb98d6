"""The taste model: a small neural network that learns, from the user's own plays, which
tracks they finish and which they skip, in which context.

Inputs of one example (one play), all standardised (recommender/taste_encoding.py):
- the track's audio feature vector (the FEATURE_NAMES layout of recommender/features.py),
- a metadata embedding: artist and genres hashed into a few signed buckets,
- the context: hour of day and weekday as sin/cos, the previous track's descriptors
  (tempo, brightness, energy, key...) and the distance to them, when it was played within
  the same session.
The target: finished or liked (1) against skipped or banned (0); stopped, failed or closed
plays say little about taste and are left out (recommender/taste_data.py).

The model is scikit-learn's MLPClassifier. It is trained from scratch when there is no
model or the feature version changed, then updated with `partial_fit` after new plays. It
only counts (`counts_`) once it beats simple baselines (the per-artist finish rate and a
logistic regression on the same inputs) on the user's most recent held-out plays; updates
keep that check honest by scoring each new play before learning from it.

TasteModel stays in this module: saved models are pickles that name its class here. The
names of taste_data and taste_encoding that callers use are re-exported from here.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from player.models import MIN_TEMPO_CONFIDENCE, Play, Track, TrackId
from recommender.taste_data import (
    DAY_PARTS,
    SESSION_GAP_S,
    Context,
    TasteData,
    artist_of,
    day_part,
    play_label,
    taste_data,
)
from recommender.taste_encoding import META_BUCKETS, Examples, PlayEncoder, meta_tokens

__all__ = [
    "DAY_PARTS", "FORMAT", "MIN_PLAYS", "SESSION_GAP_S", "Context", "TasteData", "TasteModel",
    "current_features", "day_part", "model_path_for", "play_label", "taste_data",
    "train_or_update",
]

FORMAT = 1  # bumped when the saved model's layout changes
MIN_PLAYS = 40  # fewer labelled plays than this train nothing worth keeping
AUGMENT_BELOW = 1000  # labelled plays; a longer history trains without augmentation
MIN_CLASS = 5  # the held-out check needs this many positives and negatives
HOLDOUT_FRACTION = 0.2
HOLDOUT_MAX = 400  # the check looks at (at most) this many most recent plays
MARGIN = 0.01  # the AUC the model must gain over the best baseline to count


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence sklearn's convergence chatter: a few epochs per update is the design."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*batch_size.*")
        yield


def current_features() -> tuple[int, tuple[str, ...]]:
    """Return FEATURES_VERSION and FEATURE_NAMES of the analysis (imported lazily)."""
    from recommender import features  # the analysis module; absent in a bare checkout

    return int(features.FEATURES_VERSION), tuple(features.FEATURE_NAMES)


def model_path_for(db_path: Path) -> Path:
    """Return where the taste model of one database lives: beside it, in its data dir."""
    return db_path.parent / f"{db_path.stem}.taste.joblib"


class TasteModel(PlayEncoder):
    """How likely the user is to finish a track, here and now; fitted on their history."""

    def __init__(
        self,
        features_version: int | None = None,
        feature_names: Sequence[str] | None = None,
        *,
        hidden_layer_sizes: tuple[int, ...] = (32,),
        alpha: float = 1e-2,
        n_augment: int = 4,
        noise: float = 0.3,
        max_iter: int = 150,
        update_epochs: int = 2,
        random_state: int = 0,
    ) -> None:
        if features_version is None or feature_names is None:
            version, names = current_features()
            features_version = version if features_version is None else features_version
            feature_names = names if feature_names is None else feature_names
        self.features_version = int(features_version)
        self.feature_names = tuple(feature_names)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.n_augment = n_augment
        self.noise = noise
        self.max_iter = max_iter
        self.update_epochs = update_epochs
        self.random_state = random_state
        self._hasher = FeatureHasher(n_features=META_BUCKETS, input_type="string")

    # ---- training ---------------------------------------------------------------------

    def fit(self, data: TasteData) -> Self:
        """Train from scratch; check against the baselines on the most recent plays.

        The oldest plays train the model and the baselines; the most recent ones are held
        out and scored; then every model learns them too (as an update would).
        """
        names = len(self.feature_names)
        vectors = np.array([v for v in data.features.values() if len(v) == names], np.float64)
        if len(vectors) < 2:
            raise ValueError("the taste model needs analysed tracks (run `timbre analyze`)")
        self.scaler_ = StandardScaler().fit(vectors)
        labelled = [p for p in data.plays if p.track_id in data.features
                    and play_label(p, data.liked, data.banned) is not None]
        if len(labelled) < MIN_PLAYS:
            raise ValueError(
                f"the taste model needs at least {MIN_PLAYS} finished or skipped plays of "
                f"analysed tracks; there are {len(labelled)}"
            )
        # Augmentation helps a short history (measured: AUC 0.56 -> 0.58 on 300 plays) and
        # blurs a long one (0.735 -> 0.70 on 1,500), so only short histories get it.
        self.augment_ = len(labelled) < AUGMENT_BELOW
        n_hold = min(HOLDOUT_MAX, max(MIN_CLASS * 4, int(len(labelled) * HOLDOUT_FRACTION)))
        cut_at = labelled[-n_hold].started_at
        train_plays = [p for p in data.plays if p.started_at < cut_at]
        hold_plays = [p for p in data.plays if p.started_at >= cut_at]
        rng = np.random.default_rng(self.random_state)
        train = self._encode_plays(data, train_plays, augment=True, rng=rng)
        if len(set(train.y.tolist())) < 2:
            raise ValueError("the history has only finishes or only skips: nothing to learn")
        self.mlp_ = MLPClassifier(
            hidden_layer_sizes=self.hidden_layer_sizes, alpha=self.alpha, batch_size=64,
            learning_rate_init=1e-3, max_iter=self.max_iter, early_stopping=False,
            n_iter_no_change=8, tol=1e-4, random_state=self.random_state,
        )
        with _quiet():
            self.mlp_.fit(train.X, train.y)
            self.logreg_ = SGDClassifier(
                loss="log_loss", alpha=1e-3, max_iter=50, tol=1e-4,
                random_state=self.random_state,
            ).fit(train.X, train.y)
        self.artist_counts_: dict[str, list[int]] = {}
        self.pos_ = 0
        self.n_ = 0
        self._count(train_plays, data)
        self.eval_: list[tuple[int, float, float, float, float]] = []  # y, model, artist, lr, at
        self.n_plays_ = sum(1 for p in labelled if p.started_at < cut_at)
        self.trained_through_ = cut_at - 1e-6
        self._last_play: Play | None = train_plays[-1] if train_plays else None
        self.update(data, hold_plays)
        self.trained_at_ = time.time()
        return self

    def _count(self, plays: Sequence[Play], data: TasteData) -> None:
        """Add plays to the per-artist finish counts (the simplest baseline)."""
        for play in plays:
            label = play_label(play, data.liked, data.banned)
            if label is None or play.track_id not in data.features:
                continue
            artist = artist_of(play, data)
            counts = self.artist_counts_.setdefault(artist, [0, 0])
            counts[0] += label
            counts[1] += 1
            self.pos_ += label
            self.n_ += 1

    def _artist_rate(self, artists: Sequence[str]) -> np.ndarray:
        """Return the smoothed finish rate of each artist (toward the overall rate)."""
        overall = self.pos_ / self.n_ if self.n_ else 0.5
        prior = 5.0
        out = []
        for artist in artists:
            pos, n = self.artist_counts_.get(artist, (0, 0))
            out.append((pos + prior * overall) / (n + prior))
        return np.array(out)

    def update(self, data: TasteData, plays: Sequence[Play] | None = None) -> int:
        """Learn the plays newer than the last one seen (or `plays`); return how many.

        Each new play is first scored by the model and the baselines (a held-out check
        on the most recent plays), then learned with a few `partial_fit` epochs.
        """
        if plays is None:
            plays = [p for p in data.plays if p.started_at > self.trained_through_]
        if not plays:
            return 0
        before = self._last_play
        plain = self._encode_plays(data, plays, previous=before)
        self._last_play = plays[-1]
        self.trained_through_ = max(self.trained_through_, max(p.started_at for p in plays))
        if len(plain.y) == 0:
            return 0
        model_p = self.mlp_.predict_proba(plain.X)[:, 1]
        lr_p = self.logreg_.predict_proba(plain.X)[:, 1]
        artist_p = self._artist_rate(plain.artists)
        self.eval_ += list(zip(plain.y.tolist(), model_p.tolist(), artist_p.tolist(),
                               lr_p.tolist(), plain.at.tolist(), strict=True))
        self.eval_ = self.eval_[-HOLDOUT_MAX:]
        rng = np.random.default_rng(self.random_state + len(self.eval_) + self.n_plays_)
        aug = self._encode_plays(data, plays, previous=before, augment=True, rng=rng)
        with _quiet():
            self._partial_fit(aug, rng)
        self._count(plays, data)
        self.n_plays_ += len(plain.y)
        return len(plain.y)

    def _partial_fit(self, aug: Examples, rng: np.random.Generator) -> None:
        for _ in range(self.update_epochs):
            order = rng.permutation(len(aug.y))
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                self.mlp_.partial_fit(aug.X[batch], aug.y[batch], classes=np.array([0, 1]))
                self.logreg_.partial_fit(aug.X[batch], aug.y[batch], classes=np.array([0, 1]))

    # ---- the check against the baselines ----------------------------------------------

    def check(self) -> dict[str, Any]:
        """Return the held-out AUCs of the model and baselines, and whether the model counts."""
        y = np.array([e[0] for e in getattr(self, "eval_", [])])
        out: dict[str, Any] = {"n_holdout": len(y), "positives": int(y.sum()),
                               "negatives": int(len(y) - y.sum())}
        if out["positives"] < MIN_CLASS or out["negatives"] < MIN_CLASS:
            out.update(auc=None, baseline_auc=None, baseline=None, counts=False,
                       why=f"needs {MIN_CLASS} finished and {MIN_CLASS} skipped recent plays")
            return out
        scores = np.array([e[1:4] for e in self.eval_])
        auc = float(roc_auc_score(y, scores[:, 0]))
        base = {"artist finish rate": float(roc_auc_score(y, scores[:, 1])),
                "logistic regression": float(roc_auc_score(y, scores[:, 2])),
                "overall finish rate": 0.5}
        best = max(base, key=lambda k: base[k])
        counts = auc >= base[best] + MARGIN
        out.update(auc=auc, baseline_auc=base[best], baseline=best, baselines=base,
                   counts=counts,
                   why="beats the baselines" if counts else f"does not beat the {best}")
        return out

    @property
    def counts_(self) -> bool:
        """Whether the model beats the baselines on the recent plays (else it is ignored)."""
        return bool(hasattr(self, "mlp_") and self.check()["counts"])

    # ---- scoring ----------------------------------------------------------------------

    def score(
        self, track_ids: Sequence[TrackId], data: TasteData, context: Context
    ) -> np.ndarray:
        """Return the probability the user finishes each track in context, shape (n,).

        Tracks without features get the user's overall finish rate.
        """
        out = np.full(len(track_ids), self.pos_ / self.n_ if self.n_ else 0.5)
        where = [i for i, tid in enumerate(track_ids) if tid in data.features]
        if where:
            prev = data.features.get(context.previous) if context.previous is not None else None
            out[where] = self.score_vectors(
                np.array([data.features[track_ids[i]] for i in where]),
                [data.tracks.get(track_ids[i]) for i in where], context, prev)
        return out

    def score_vectors(
        self, vectors: np.ndarray, tracks: Sequence[Track | None], context: Context,
        previous_vector: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return the probability of a finish for raw feature vectors (n, n_features), (n,).

        For callers that hold a feature matrix (the For you queue): score only the
        candidate pool, a few hundred rows, not the whole library.
        """
        if len(vectors) == 0:
            return np.zeros(0)
        audio = np.clip(self.scaler_.transform(np.asarray(vectors, np.float64)), -5, 5)
        prev = None if previous_vector is None else self._audio(previous_vector)
        X = self._assemble(audio, [meta_tokens(t) for t in tracks], context.at, prev)
        return np.asarray(self.mlp_.predict_proba(X)[:, 1])

    def reason(self, track_id: TrackId, data: TasteData, context: Context) -> str:
        """Say in words why the model likes (or not) a track now."""
        vector = data.features.get(track_id)
        if vector is None:
            return ""
        prev = data.features.get(context.previous) if context.previous is not None else None
        return self.explain(vector, data.tracks.get(track_id), context, prev)

    def explain(self, vector: np.ndarray, track: Track | None, context: Context,
                previous_vector: np.ndarray | None = None) -> str:
        """Say in words what the model thinks of a track (a raw vector) now.

        "you usually finish slow, dark tracks like this in the evening" when now is the
        part of the day where the score is clearly highest; "you often skip ..." below 0.5.
        """
        t = time.localtime(context.at)
        ats = [context.at] + [time.mktime((t.tm_year, t.tm_mon, t.tm_mday, hour, 0, 0, 0, 0, -1))
                              for _, hour in DAY_PARTS]
        p = [float(self.score_vectors(np.asarray(vector)[None, :], [track], Context(at),
                                      previous_vector)[0]) for at in ats]
        words = self._describe(vector)
        like = f"{words} tracks like this" if words else "tracks like this"
        if p[0] < 0.5:
            return f"you often skip {like}"
        by_part = p[1:]
        now = day_part(t.tm_hour)
        if int(np.argmax(by_part)) == now and max(by_part) - min(by_part) > 0.1:
            return f"you usually finish {like} {DAY_PARTS[now][0]}"
        return f"you usually finish {like}"

    def _steady_beat(self, vector: np.ndarray) -> bool:
        """Whether a raw vector's tempo confidence says it has a steady beat (True when the
        layout has no such column)."""
        if "tempo_confidence" not in self.feature_names:
            return True
        return bool(vector[self.feature_names.index("tempo_confidence")] >= MIN_TEMPO_CONFIDENCE)

    def _describe(self, vector: np.ndarray | None) -> str:
        """Return words for a track's tempo, brightness and energy ("slow, dark")."""
        if vector is None:
            return ""
        z = self._audio(vector)
        words = []
        for keys, low, high in ((("tempo_bpm", "tempo"), "slow", "fast"),
                                (("brightness", "centroid"), "dark", "bright"),
                                (("energy", "rms_mean"), "calm", "energetic")):
            idx = next((i for k in keys for i, n in enumerate(self.feature_names)
                        if k in n.lower()), None)
            if idx is None or abs(z[idx]) <= 0.5:
                continue
            if keys[0] == "tempo_bpm" and not self._steady_beat(vector):
                continue  # its tempo is a guess: neither slow nor fast
            words.append(low if z[idx] < 0 else high)
        return ", ".join(words)

    # ---- storage ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Return what `timbre model status` shows."""
        trained = hasattr(self, "mlp_")
        out: dict[str, Any] = {"trained": trained, "features_version": self.features_version,
                               "n_plays": int(getattr(self, "n_plays_", 0))}
        if trained:
            out["trained_at"] = getattr(self, "trained_at_", None)
            out.update(self.check())
        return out

    def save(self, path: Path) -> None:
        """Write the model atomically (a crash leaves the previous one)."""
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump({"format": FORMAT, "features_version": self.features_version,
                     "model": self}, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    @staticmethod
    def load(path: Path, features_version: int) -> TasteModel | None:
        """Return the saved model, or None when absent, unreadable or of another version.

        Unpickling runs code, so only a file we wrote is read: ours, in our data dir,
        not writable by others.
        """
        import joblib

        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            raise PermissionError(f"{path} is writable by others; not loading it")
        try:
            saved = joblib.load(path)
        except Exception:  # noqa: BLE001 -- an old sklearn, a truncated file: retrain, not fail
            return None
        if (not isinstance(saved, dict) or saved.get("format") != FORMAT
                or saved.get("features_version") != features_version
                or not isinstance(saved.get("model"), TasteModel)):
            return None
        return saved["model"]  # type: ignore[no-any-return]


def train_or_update(
    data: TasteData, path: Path, *, features_version: int | None = None,
    feature_names: Sequence[str] | None = None, retrain: bool = False,
) -> tuple[TasteModel, str]:
    """Load the saved model and learn the new plays, or train from scratch; save it.

    Returns the model and what was done: "trained" or "updated (N plays)".
    """
    if features_version is None or feature_names is None:
        features_version, feature_names = current_features()
    model = None if retrain else TasteModel.load(path, features_version)
    if model is not None and model.feature_names != tuple(feature_names):
        model = None  # same version number, other layout: never mix
    if model is None:
        model = TasteModel(features_version, feature_names).fit(data)
        done = "trained"
    else:
        done = f"updated ({model.update(data)} plays)"
    model.save(path)
    return model, done
