"""Mixes, mood playlists and song paths on libraries with planted structure."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from player.db import connect, transaction
from player.feedback import not_this
from player.history import record_plays
from player.library_source import SqliteLibrarySource
from player.models import Play, TrackId
from player.playlists import get_playlist, playlist_tracks
from recommender.engine import Engine
from recommender.features import FEATURES_VERSION
from recommender.mixes import all_mixes, cluster, personal_mixes, size_guess, sound_mixes
from recommender.picks import Snapshot
from recommender.playlists_gen import GenerateError, mood_playlist, song_path
from tests.media import chord, clicks, make_track, noise, tone
from tests.reco_helpers import add_tracks
from ui.cli import run

DIM = 9
# Three clearly different styles: descriptors as the analysis writes them.
STYLES = {
    "electronic": {"tempo_bpm": 172.0, "energy": 0.9, "brightness": 0.85, "danceability": 0.8,
                       "acousticness": 0.1, "loudness_db": -6.0, "mode": "major"},
    "classical": {"tempo_bpm": 68.0, "energy": 0.12, "brightness": 0.2, "danceability": 0.15,
                      "acousticness": 0.92, "loudness_db": -26.0, "mode": "minor"},
    "rock": {"tempo_bpm": 122.0, "energy": 0.7, "brightness": 0.55, "danceability": 0.5,
                 "acousticness": 0.3, "loudness_db": -9.0, "mode": "major"},
}
PER_STYLE = 10


def store_features(conn: sqlite3.Connection, rows: list[tuple[TrackId, np.ndarray, dict[str, object]]]) -> None:
    """Write feature rows (vector + descriptor columns) as the analysis does."""
    with transaction(conn):
        for tid, vec, d in rows:
            conn.execute(
                "INSERT INTO features (track_id, version, vector, analyzed_at, tempo_bpm, mode, "
                "loudness_db, energy, brightness, danceability, acousticness) "
                f"VALUES (?, {FEATURES_VERSION}, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                (int(tid), np.asarray(vec, "<f4").tobytes(), d.get("tempo_bpm"), d.get("mode"),
                 d.get("loudness_db"), d.get("energy"), d.get("brightness"),
                 d.get("danceability"), d.get("acousticness")))


@pytest.fixture
def styled(db_path: Path) -> tuple[sqlite3.Connection, dict[str, list[TrackId]]]:
    """Thirty tracks in three planted styles: sound, descriptors and genre all agree."""
    conn = connect(db_path)
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1, (len(STYLES), DIM))
    by_style: dict[str, list[TrackId]] = {}
    rows = []
    for s, (style, desc) in enumerate(STYLES.items()):
        ids = add_tracks(conn, [{"title": f"{style} {i}", "artist": f"{style} artist {i % 4}",
                                 "genres": [style.capitalize()], "path": f"/m/{style}/{i}.flac"}
                                for i in range(PER_STYLE)])
        by_style[style] = ids
        for tid in ids:
            jitter = {k: (v * (1 + rng.normal(0, 0.04)) if isinstance(v, float) else v)
                      for k, v in desc.items()}
            rows.append((tid, centres[s] + rng.normal(0, 0.15, DIM), jitter))
    store_features(conn, rows)
    return conn, by_style


def snapshot(conn: sqlite3.Connection) -> Snapshot:
    return Engine(SqliteLibrarySource(conn), FEATURES_VERSION).snapshot()


def style_of(by_style: dict[str, list[TrackId]]) -> dict[TrackId, str]:
    return {t: s for s, ids in by_style.items() for t in ids}


def test_mixes_separate_planted_styles_and_are_named_for_them(styled) -> None:  # type: ignore[no-untyped-def]
    conn, by_style = styled
    mixes = sound_mixes(snapshot(conn))
    owner = style_of(by_style)
    assert len(mixes) == len(STYLES)
    found = {}
    for mix in mixes:
        styles = {owner[t] for t in mix.tracks}
        assert len(styles) == 1, (mix.name, styles)
        found[styles.pop()] = mix
    assert set(found) == set(STYLES)
    for style, mix in found.items():
        assert sorted(mix.tracks) == sorted(by_style[style])  # every track, once
        assert style in mix.name.casefold() and style in mix.reason.casefold()
        artists = [conn.execute("SELECT artist FROM tracks WHERE id = ?", (t,)).fetchone()[0]
                   for t in mix.tracks]
        assert all(a != b for a, b in itertools.pairwise(artists))  # spaced
    words = {s: set(m.name.casefold().replace(",", " ").split()) for s, m in found.items()}
    assert words["electronic"] & {"fast", "bright", "energetic", "loud", "danceable"}
    assert not words["electronic"] & {"slow", "calm", "dark", "quiet"}
    assert words["classical"] & {"slow", "calm", "dark", "quiet", "acoustic"}
    assert not words["classical"] & {"fast", "bright", "energetic", "loud"}


def test_cluster_count_follows_library_size() -> None:
    assert size_guess(10) == 2
    assert size_guess(400) == 10
    assert size_guess(100_000) == 24


def test_personal_mixes_come_from_what_is_played(styled) -> None:  # type: ignore[no-untyped-def]
    conn, by_style = styled
    now = time.time()
    favourite = by_style["rock"][3]
    plays = [Play(track_id=favourite, started_at=now - 3600 * i, fraction=1.0) for i in range(1, 9)]
    plays += [Play(track_id=t, started_at=now - 86_400 * 2, fraction=1.0)
              for t in by_style["rock"][:3]]
    plays += [Play(track_id=by_style["classical"][0], started_at=now - 86_400 * 900,
                   fraction=1.0)]  # long ago: faded
    record_plays(conn, plays)
    snap = snapshot(conn)
    mixes = personal_mixes(snap, now)
    assert len(mixes) == 1
    assert mixes[0].name.startswith("Your mix 1: ") and "rock" in mixes[0].name.casefold()
    assert set(mixes[0].tracks) == set(by_style["rock"])
    assert mixes[0].tracks[0] == favourite
    # The rock cluster is no bigger than a mix: its sound mix would be the same tracks.
    listed = all_mixes(snap, now)
    assert [m.kind for m in listed] == ["personal"] + ["sound"] * 2
    assert not any("rock" in m.name.casefold() for m in listed[1:])
    longer = [m for m in all_mixes(snap, now, length=5) if m.kind == "sound"]
    assert len(longer) == 3  # 5 of the 10: the sound mix's 5 differ from the personal 5
    # "Not this" on the favourite: it stops leading the mix (to its second half).
    not_this(conn, favourite)
    again = personal_mixes(snapshot(conn), now)[0]
    assert again.tracks[0] != favourite and again.tracks.index(favourite) >= len(again.tracks) // 2


def test_mood_playlists_pick_from_descriptors(styled) -> None:  # type: ignore[no-untyped-def]
    conn, by_style = styled
    snap = snapshot(conn)
    owner = style_of(by_style)
    calm, reason = mood_playlist(snap, "calm", 30)
    assert {owner[t] for t in calm} == {"classical"} and len(calm) == PER_STYLE
    assert "energy" in reason
    energetic, _ = mood_playlist(snap, "energetic", 5)
    assert {owner[t] for t in energetic} == {"electronic"} and len(energetic) == 5
    melancholic, _ = mood_playlist(snap, "melancholic", 30)
    assert {owner[t] for t in melancholic} == {"classical"}
    with pytest.raises(GenerateError, match="known moods"):
        mood_playlist(snap, "hangry")


@pytest.fixture
def continuum(db_path: Path) -> tuple[sqlite3.Connection, list[TrackId], list[TrackId]]:
    """Tracks spaced along a line from A to B in sound, plus tracks far off the line."""
    conn = connect(db_path)
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, DIM), rng.normal(0, 1, DIM)
    line = add_tracks(conn, [{"title": f"step {i}", "artist": f"artist {i}"} for i in range(21)])
    off = add_tracks(conn, [{"title": f"off {i}", "artist": f"other {i}", "path": f"/o/{i}.flac"}
                             for i in range(15)])
    rows = [(tid, a + (b - a) * i / 20 + rng.normal(0, 0.03, DIM), {})
            for i, tid in enumerate(line)]
    rows += [(tid, rng.normal(0, 3, DIM), {}) for tid in off]
    store_features(conn, rows)
    return conn, line, off


@pytest.mark.parametrize("n", [2, 5, 8, 12])
def test_song_path_moves_monotonically_toward_b(continuum, n: int) -> None:  # type: ignore[no-untyped-def]
    conn, line, off = continuum
    snap = snapshot(conn)
    start, end = line[0], line[-1]
    path = song_path(snap, start, end, n)
    assert path[0] == start and path[-1] == end and len(path) == n
    assert len(set(path)) == n and not set(path) & set(off)
    rows = snap.sim.rows_of([int(t) for t in path])
    to_b = snap.sim.seed_scores([int(rows[-1])])[:, 0][rows]
    assert all(x < y for x, y in itertools.pairwise(to_b))
    position = [line.index(t) for t in path]  # the planted answer: along the line
    assert position == sorted(position)


def test_song_path_needs_two_library_tracks(continuum) -> None:  # type: ignore[no-untyped-def]
    conn, line, _ = continuum
    snap = snapshot(conn)
    with pytest.raises(GenerateError):
        song_path(snap, line[0], line[0])
    with pytest.raises(GenerateError):
        song_path(snap, line[0], TrackId(10_000))


def test_empty_library_has_no_mixes(db_path: Path) -> None:
    snap = snapshot(connect(db_path))
    assert cluster(snap).k == 0 and all_mixes(snap, time.time()) == []


def test_mix_and_generate_commands(styled, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    conn, by_style = styled
    assert run(["mix", "list", "--json"]) == 0
    mixes = json.loads(capsys.readouterr().out)
    assert len(mixes) == 3 and all({"name", "reason", "tracks"} <= set(m) for m in mixes)
    name = mixes[0]["name"]
    assert run(["mix"]) == 0  # no subcommand: the list, as text
    text = capsys.readouterr().out
    assert all(m["name"] in text for m in mixes)
    assert run(["mix", "show", name, "--json", "--save"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == name and [t["id"] for t in shown["tracks"]] == \
        [t["id"] for t in mixes[0]["tracks"]]
    assert playlist_tracks(conn, get_playlist(conn, name).id) == [t["id"] for t in shown["tracks"]]
    assert run(["playlist", "generate", "--mood", "calm", "-n", "4", "--json"]) == 0
    calm = json.loads(capsys.readouterr().out)
    assert {t["id"] for t in calm["tracks"]} <= set(by_style["classical"])
    assert playlist_tracks(conn, get_playlist(conn, "Calm").id) == [t["id"] for t in calm["tracks"]]
    # Asking for more than fits gives what fits, and says so.
    assert run(["playlist", "generate", "--mood", "calm", "-n", "40", "--no-save"]) == 0
    said = capsys.readouterr()
    listed = [line for line in said.out.splitlines() if line.strip()[:1].isdigit()]
    assert 4 <= len(listed) <= len(by_style["classical"])
    assert said.err == f"note: {len(listed)} tracks, not 40: no more of the library fits\n"
    seed = by_style["rock"][0]
    assert run(["playlist", "generate", "--similar", str(seed), "-n", "6", "--name", "R"]) == 0
    saved = playlist_tracks(conn, get_playlist(conn, "R").id)
    assert saved[0] == seed and len(saved) == 6
    capsys.readouterr()
    a, b = by_style["classical"][0], by_style["electronic"][0]
    assert run(["playlist", "generate", "--path", str(a), str(b), "-n", "5", "--json"]) == 0
    path = json.loads(capsys.readouterr().out)
    assert path["tracks"][0]["id"] == a and path["tracks"][-1]["id"] == b
    assert run(["playlist", "generate", "--path", str(a), "/no/such.flac"]) == 1


def _style_signal(style: str, i: int) -> np.ndarray:
    """Return 6 s of one generated style; i varies pitch and tempo a little."""
    if style == "clicks":  # fast, percussive, bright
        return clicks(165 + 3 * i, seconds=6.0) + noise(6.0, amp=0.05, seed=i)
    if style == "drone":  # slow, soft, low chords
        return 0.5 * chord([55 * 2 ** (i / 12), 82.5 * 2 ** (i / 12)], seconds=6.0)
    return 0.6 * tone(660 + 40 * i, seconds=6.0) + clicks(96 + 2 * i, seconds=6.0, amp=0.3)


@pytest.mark.slow
def test_mixes_separate_generated_audio_styles(tmp_path: Path, db_path: Path) -> None:
    from player.scanner import scan
    from recommender.analysis import analyze

    styles = ("clicks", "drone", "beeps")
    for style in styles:
        for i in range(4):
            # No genre tags and a different artist each time: only the sound can tell.
            make_track(tmp_path / "music" / f"{style}{i}.flac", _style_signal(style, i),
                       title=f"{style} {i}", artist=f"{style} maker {i}")
    scan([tmp_path / "music"], db_path)
    report = analyze(db_path, workers=2)
    assert report.failed == [] and report.analyzed == 12
    conn = connect(db_path)
    snap = snapshot(conn)
    paths = {tid: path for tid, path in conn.execute("SELECT id, path FROM tracks")}
    mixes = sound_mixes(snap)
    groups = [{Path(paths[t]).stem.rstrip("0123456789") for t in m.tracks} for m in mixes]
    assert sorted(g.pop() for g in groups if len(g) == 1) == sorted(styles), \
        [(m.name, sorted(Path(paths[t]).stem for t in m.tracks)) for m in mixes]
    names = {Path(paths[m.tracks[0]]).stem.rstrip("0123456789"): m.name.casefold() for m in mixes}
    assert "slow" not in names["clicks"] and "fast" not in names["drone"]


def test_a_group_is_named_electronic_only_when_it_is(db_path: Path) -> None:
    # An all-acoustic library (quartets, choirs): its least acoustic group is lower than
    # the rest, yet nowhere near electronic music, and must not be called that.
    conn = connect(db_path)
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 1, (2, DIM))
    rows = []
    for s, acousticness in enumerate((0.78, 0.96)):
        ids = add_tracks(conn, [{"title": f"piece {s}-{i}", "artist": f"ensemble {s}-{i % 4}",
                                 "path": f"/m/{s}/{i}.flac"} for i in range(PER_STYLE)])
        for tid in ids:
            rows.append((tid, centres[s] + rng.normal(0, 0.15, DIM),
                         {"tempo_bpm": 90.0, "energy": 0.3, "brightness": 0.4,
                          "danceability": 0.2, "loudness_db": -20.0, "mode": "major",
                          "acousticness": acousticness + rng.normal(0, 0.01)}))
    store_features(conn, rows)
    names = [m.name.casefold() for m in sound_mixes(snapshot(conn))]
    assert len(names) == 2
    assert not any("electronic" in n for n in names)
    assert any("acoustic" in n for n in names)  # the other side is both relative and real
    # With nothing else standing out, the group is named by who plays, not "Mix 2".
    assert any(n.startswith("ensemble 0-") and n.endswith(" and more") for n in names), names
