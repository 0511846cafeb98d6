"""The one facade the CLI, the headless player and the window use to recommend.

    engine = Engine(SqliteLibrarySource(conn))
    engine.similar([track_id], n=20)      # Play similar (several ids = multi-seed)
    engine.for_you(n=20, adventurousness=0.3)
    radio = engine.radio([track_id]); radio.next(10); radio.played(tid, skipped=True)

Every call first checks the source's revision (a few aggregate queries): a play that
ended is folded into the collaborative model and the taste profile without a refit, new
feedback is re-read, and only a change to the tracks or their features rebuilds the
content index. A taste model, when given, learns the new plays with a cheap
`partial_fit` in memory; `timbre model train` is what saves it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from player.models import Track, TrackId
from recommender import foryou as foryou_mod
from recommender.collaborative import CoListening
from recommender.picks import Pick, Snapshot
from recommender.radio import Radio
from recommender.radio import similar as similar_picks
from recommender.similarity import ContentSimilarity
from recommender.source import FeatureMatrix, LibrarySource, PlayLog, Revision

if TYPE_CHECKING:  # recommender.taste pulls in the MLP: imported only when a model is used
    from recommender.taste import TasteModel

log = logging.getLogger(__name__)

E = TypeVar("E", ContentSimilarity, CoListening)


def default_features_version() -> int:
    """Return the analysis' FEATURES_VERSION: the stored features the engine reads."""
    from recommender.features import FEATURES_VERSION  # librosa: only when asked

    return int(FEATURES_VERSION)


def compatible_prefixes(version: int) -> dict[int, int]:
    """Return {older version: width} whose vectors are a prefix of version's."""
    from recommender.features import COMPATIBLE_PREFIXES, FEATURES_VERSION

    return dict(COMPATIBLE_PREFIXES) if version == FEATURES_VERSION else {}


class Engine:
    """Recommendations over one library: Play similar, For you and radios, with reasons."""

    def __init__(
        self,
        source: LibrarySource,
        features_version: int | None = None,
        *,
        similarity: ContentSimilarity | None = None,
        collaborative: CoListening | None = None,
        taste: TasteModel | None = None,
    ) -> None:
        self.source = source
        self.features_version = (
            default_features_version() if features_version is None else features_version
        )
        self._similarity_template = similarity if similarity is not None else ContentSimilarity()
        self._cf_template = collaborative if collaborative is not None else CoListening()
        # The learned taste model (None: For you goes without it); it is updated here with
        # each new play but saved only by `timbre model train` (train_or_update).
        self.taste = taste
        if taste is not None and taste.features_version != self.features_version:
            log.warning("taste model of features version %d ignored (library has %d)",
                        taste.features_version, self.features_version)
            self.taste = None
        self._snap: Snapshot | None = None
        self._rev: Revision | None = None
        self._lock = threading.RLock()
        self.rebuilds = 0  # full rebuilds so far (tests and the status bar look at it)

    def set_taste(self, taste: TasteModel | None) -> None:
        """Use a newly trained taste model (None: For you goes without one)."""
        with self._lock:
            if taste is not None and taste.features_version != self.features_version:
                taste = None
            self.taste = taste

    # -- keeping up with the library -----------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Return the current state, catching up with the source first."""
        with self._lock:
            rev = self.source.revision()
            snap, old = self._snap, self._rev
            rebuilt = snap is None or old is None or rev.tracks != old.tracks \
                or rev.features != old.features or rev.last_play_id < old.last_play_id
            if rebuilt:
                snap = self._rebuild()
            else:
                assert snap is not None and old is not None
                if rev.last_play_id != old.last_play_id or rev.matched_plays != old.matched_plays:
                    new = self.source.play_log(after_play_id=snap.log.last_play_id)
                    if old.matched_plays + len(new) == rev.matched_plays:
                        snap.cf.partial_fit(new)  # only new plays: fold them in
                        snap.log = PlayLog.concat(snap.log, new)
                    else:  # older plays changed (e.g. imports matched): redo the history
                        snap.log = self.source.play_log()
                        snap.cf = _clone(self._cf_template).fit(snap.log)
                    snap.refresh_history()
                if rev.feedback != old.feedback:
                    snap.likes = dict(self.source.likes())
                    snap.bans = self.source.bans()
                    snap.feedback = list(self.source.feedback())
                    snap.moods = dict(self.source.moods())
                    snap.refresh_feedback()
            if self.taste is not None and (old is None or rev.last_play_id != old.last_play_id):
                self._update_taste(snap)
            self._snap, self._rev = snap, rev
            if rebuilt:
                give_back_memory()
            return snap

    def _rebuild(self) -> Snapshot:
        """Read everything and fit both models."""
        src = self.source
        features = self._read_features()
        sim = _clone(self._similarity_template).fit(src.tracks(), features)
        log = src.play_log()
        # Recency is measured back from the latest play, not the clock: the same history
        # gives the same model whenever it is fitted (a uniform shift of the clock scales
        # every weight alike, but shrinkage and ties would still see it).
        cf = _clone(self._cf_template).fit(log)
        self.rebuilds += 1
        return Snapshot(sim=sim, cf=cf, log=log, likes=dict(src.likes()), bans=src.bans(),
                        feedback=list(src.feedback()), moods=dict(src.moods()),
                        features=features)

    def _read_features(self) -> FeatureMatrix:
        """Return the analysed tracks' vectors at the engine's features version.

        After an upgrade whose new version only appended columns, the tracks the analysis
        has not redone yet keep their older vectors: until none is left, every track is
        compared on the columns both versions share, rather than the redone ones on all
        of theirs and the others by their tags alone.
        """
        current = self.source.feature_matrix(self.features_version)
        for version, width in compatible_prefixes(self.features_version).items():
            older = self.source.feature_matrix(version)
            if len(older) and older.vectors.shape[1] == width and (
                    not len(current) or current.vectors.shape[1] > width):
                return current.merged_prefix(older, width)
        return current

    def _update_taste(self, snap: Snapshot) -> None:
        """Let the taste model learn the plays newer than the last it saw (partial_fit)."""
        from recommender.taste import taste_data

        if self.taste is None or not self.taste.status()["trained"]:
            return  # an untrained model has nothing to update (and never counts)
        if snap.features.vectors.shape[1] != len(self.taste.feature_names):
            return  # the shared columns of an upgrade in progress: For you waits for it too
        try:
            # Only the plays the model has not seen: reading the whole history per play
            # would cost more than the partial_fit itself.
            data = taste_data(self.source, self.features_version,
                              since=self.taste.trained_through_, matrix=snap.features)
            learned = self.taste.update(data)
        except ValueError as exc:  # e.g. a vector layout the model was not trained on
            log.warning("taste model dropped: %s", exc)
            self.taste = None
            return
        if learned:
            log.debug("taste model learned %d new plays", learned)

    # -- recommending --------------------------------------------------------------------
    def similar(self, seeds: Sequence[TrackId], n: int = 20) -> list[Pick]:
        """Return n tracks like the seeds (never a seed, nor a duplicate of one)."""
        snap = self.snapshot()
        rows = [int(r) for r in snap.sim.rows_of([int(s) for s in seeds]) if r >= 0]
        return similar_picks(snap, rows, n)

    def for_you(self, n: int = 20, adventurousness: float = 0.3, likes: Sequence[str] = (),
                now: float | None = None) -> list[Pick]:
        """Return the For you queue (likes: "genre:jazz", "artist:X", "mood:calm")."""
        snap = self.snapshot()
        return foryou_mod.for_you(snap, n, adventurousness, likes, now, taste_model=self.taste)

    def radio(self, seeds: Sequence[TrackId]) -> Radio:
        """Return a radio from seed tracks; tell it what was played with radio.played()."""
        return Radio(self.snapshot, seeds)

    def track(self, track_id: TrackId) -> Track | None:
        """Return a library track's metadata (None when unknown)."""
        snap = self.snapshot()
        row = int(snap.sim.rows_of([int(track_id)])[0])
        return snap.track(row) if row >= 0 else None


def give_back_memory() -> None:
    """Return freed memory to the system after a rebuild (glibc only; elsewhere nothing).

    Fitting allocates several times the index in temporaries; glibc keeps most of what
    they freed mapped, and at 100,000 tracks that was 100-160 MB of resident memory the
    engine no longer used.
    """
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)  # this process's own C library
    except OSError:
        return None


_LIBC = _load_libc()


def _clone(estimator: E) -> E:
    """Return an unfitted copy with the same settings (sklearn's clone, without sklearn)."""
    params = {k: v for k, v in vars(estimator).items() if not k.endswith("_") and not k.startswith("_")}
    return type(estimator)(**params)
