"""Auto-tagging: suggestions stored with a confidence, files untouched until accepted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mutagen
import numpy as np
import pytest

from player.db import connect
from player.features_store import FeatureRow, write_batch
from player.models import TrackId
from player.scanner import scan
from player.suggestions_store import (
    Suggestion,
    SuggestionError,
    accept_suggestion,
    replace_suggestions,
    suggestions,
)
from recommender.autotag import AutoTagger, held_out_accuracy, suggest
from tests.media import make_track, tone
from tests.taste_sim import make_library
from ui.cli import run

GENRES = {"ambient": "Ambient", "techno": "Techno", "folk": "Folk"}
MOODS = {"ambient": "calm", "techno": "energetic", "folk": "happy"}


def _digest(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.*"))}


@pytest.fixture
def tagged_library(tmp_path: Path, db_path: Path) -> Path:
    """30 real files in three styles, 6 of them untagged, with style-clustered features."""
    root = tmp_path / "music"
    lib = make_library(300, seed=5)
    by_style: dict[str, list[np.ndarray]] = {s: [] for s in GENRES}
    for tid, style in lib.style.items():
        if style in by_style and len(by_style[style]) < 10:
            by_style[style].append(lib.features[tid])
    formats = ("flac", "mp3", "ogg", "m4a", "wav")
    vectors: dict[str, np.ndarray] = {}
    for style, vecs in by_style.items():
        for i, vec in enumerate(vecs):
            path = root / style / f"{i:02d}.{formats[i % len(formats)]}"
            tags: dict[str, object] = {"title": f"{style} {i}", "artist": f"{style} artist {i % 2}"}
            if i >= 2:  # the first two of each style carry no genre and no mood
                tags["genre"] = GENRES[style]
            make_track(path, tone(220 + 40 * i, 0.3), **tags)
            if i >= 2:
                audio = mutagen.File(path)
                if path.suffix == ".flac" or path.suffix == ".ogg":
                    audio["mood"] = [MOODS[style]]
                    audio.save()
            vectors[str(path)] = vec
    scan([root], db_path)
    conn = connect(db_path)
    ids = {row[1]: TrackId(row[0]) for row in conn.execute("SELECT id, path FROM tracks")}
    write_batch(conn, lib.version, [FeatureRow(ids[p], v, {}) for p, v in vectors.items()])
    conn.close()
    return root


def test_autotag_stores_suggestions_and_never_touches_files(
    tagged_library: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(tagged_library)
    assert run(["autotag", "--json", "--min-confidence", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert _digest(tagged_library) == before  # not one byte of any file changed
    assert out["fields"]["genre"]["untagged"] == 6
    conn = connect(db_path)
    stored = suggestions(conn)
    genre = [s for s in stored if s.field == "genre"]
    assert len(genre) == 6
    assert all(0.0 < s.confidence <= 1.0 and s.model_version for s in genre)
    paths = dict(conn.execute("SELECT id, path FROM tracks"))
    right = sum(GENRES[Path(paths[s.track_id]).parent.name] == s.value for s in genre)
    assert right >= 4  # clustered audio: most guesses are the style's genre
    assert {s.value for s in stored if s.field == "mood"} <= set(MOODS.values())
    # Running again replaces the suggestions rather than piling them up.
    assert run(["autotag", "--json", "--min-confidence", "0"]) == 0
    assert len([s for s in suggestions(conn) if s.field == "genre"]) == 6
    assert _digest(tagged_library) == before


def test_accepting_writes_only_that_file(tagged_library: Path, db_path: Path) -> None:
    assert run(["autotag", "--json", "--min-confidence", "0"]) == 0
    conn = connect(db_path)
    pick = next(s for s in suggestions(conn) if s.field == "genre")
    row = conn.execute("SELECT path FROM tracks WHERE id = ?", (pick.track_id,)).fetchone()
    path = Path(row[0])
    before = _digest(tagged_library)
    accept_suggestion(conn, pick.track_id, "genre", pick.value)
    after = _digest(tagged_library)
    assert [p for p in before if before[p] != after[p]] == [str(path)]
    audio = mutagen.File(path, easy=path.suffix in (".mp3", ".m4a"))
    assert pick.value in str(audio.tags.get("genre") if path.suffix != ".wav" else audio.tags)
    assert conn.execute("SELECT genre FROM tracks WHERE id = ?", (pick.track_id,)).fetchone()[0] \
        == pick.value
    assert not [s for s in suggestions(conn, pick.track_id) if s.field == "genre"]
    with pytest.raises(SuggestionError):  # an unknown suggestion writes nothing
        accept_suggestion(conn, pick.track_id, "genre", "Polka")
    assert _digest(tagged_library) == after


def test_suggestions_of_deleted_tracks_are_skipped(db_path: Path) -> None:
    conn = connect(db_path)
    replace_suggestions(conn, "genre", [Suggestion(TrackId(999), "genre", "Jazz", 0.9)], "t")
    assert suggestions(conn) == []


def test_tagger_beats_chance_on_held_out_tags() -> None:
    lib = make_library(240, seed=11)
    tracks = [lib.tracks[t] for t in lib.tracks]
    x = np.array([lib.features[t.id] for t in tracks], np.float64)
    labels = [t.genres[0] for t in tracks]
    result = held_out_accuracy(x, tracks, labels)
    assert result["n_test"] > 40
    assert result["accuracy"] > 2 / len(set(labels))  # twice chance
    guesses, report = suggest(tracks[:200] + [
        t.__class__(id=t.id, path=t.path, title=t.title, artist=t.artist) for t in tracks[200:]
    ], lib.features, {}, evaluate=False)
    assert report["genre"]["untagged"] == 40
    assert all(g.confidence >= 0.5 for g in guesses)
    with pytest.raises(ValueError):
        AutoTagger().fit(x[:5], tracks[:5], ["Jazz"] * 5)
