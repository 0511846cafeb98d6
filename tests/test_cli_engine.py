"""The recommendation commands end to end: `timbre similar`, `foryou`, `like`, `ban`, `not-this`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from player.db import connect
from recommender.engine import default_features_version
from tests.media import make_track
from tests.reco_helpers import DAY, plays, standard_library
from ui.cli import run


@pytest.fixture
def library(db_path: Path):  # type: ignore[no-untyped-def]
    """The standard synthetic library at the features version the CLI reads."""
    conn = connect(db_path)
    ids, labels = standard_library(conn, per_style=8, version=default_features_version())
    return conn, ids, labels


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict[str, object]]:
    assert run(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_similar_json_by_id_and_by_path(library, capsys) -> None:  # type: ignore[no-untyped-def]
    conn, ids, labels = library
    out = _json(capsys, ["similar", str(ids[0]), "-n", "5", "--json"])
    assert len(out) == 5
    assert set(out[0]) >= {"id", "path", "title", "artist", "score", "why"}
    assert ids[0] not in [o["id"] for o in out]
    style = dict(zip(ids, labels, strict=True))
    assert all(style[o["id"]] == style[ids[0]] for o in out)
    path = conn.execute("SELECT path FROM tracks WHERE id=?", (ids[0],)).fetchone()[0]
    by_path = _json(capsys, ["similar", path, "-n", "5", "--json"])
    assert [o["id"] for o in by_path] == [o["id"] for o in out]
    # Several tracks: a multi-seed radio drawing on both.
    both = _json(capsys, ["similar", str(ids[0]), str(ids[30]), "-n", "6", "--json"])
    assert {style[o["id"]] for o in both} == {0, 3}


def test_similar_text_output_and_unknown_track(library, capsys) -> None:  # type: ignore[no-untyped-def]
    _, ids, _ = library
    assert run(["similar", str(ids[0]), "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 6 and "similar" in out
    assert run(["similar", "/no/such/file.flac"]) == 1
    assert "no track '/no/such/file.flac'" in capsys.readouterr().err


def test_ban_artist_and_track_then_foryou(library, capsys) -> None:  # type: ignore[no-untyped-def]
    conn, ids, _ = library
    plays(conn, [(ids[k], 1.7e9 - d * DAY + k * 300, False) for d in range(5) for k in range(3)])
    assert run(["ban", "--artist", " jazz  ARTIST 1"]) == 0
    said = capsys.readouterr()
    assert said.err == ""  # a library artist: nothing to warn about
    assert "Banned the artist Jazz Artist 1:" in said.out  # named as the library tags it
    assert run(["ban", str(ids[2])]) == 0
    assert run(["ban"]) == 2  # neither a track nor an artist
    capsys.readouterr()
    # A typo bans nothing today: it is stored (tracks may come) and said, with a guess.
    assert run(["ban", "--artist", "Jaz Artist 3"]) == 0
    said = capsys.readouterr().err
    assert "no track in the library is by Jaz Artist 3" in said and "Jazz Artist 3" in said
    assert run(["ban", "--artist", "Jaz Artist 3", "--undo"]) == 0
    capsys.readouterr()
    out = _json(capsys, ["foryou", "-n", "25", "--json", "--adventurous", "0.8"])
    assert out
    assert all(o["artist"] != "Jazz Artist 1" and o["id"] != ids[2] for o in out)
    assert all(o["why"] for o in out)
    assert run(["ban", "--artist", "Jazz Artist 1", "--undo"]) == 0
    assert conn.execute("SELECT count(*) FROM bans WHERE kind='artist'").fetchone()[0] == 0


def test_like_and_not_this_are_stored(library, capsys) -> None:  # type: ignore[no-untyped-def]
    conn, ids, _ = library
    named = {t: f"\u201c{title}\u201d by {artist} (track {t})"
             for t, title, artist in conn.execute("SELECT id, title, artist FROM tracks")}
    assert run(["like", str(ids[4])]) == 0
    assert run(["not-this", str(ids[5])]) == 0
    assert run(["less-like-this", str(ids[6])]) == 0
    assert capsys.readouterr().out.splitlines() == [  # each names the track it was about
        f"Liked {named[ids[4]]}.",
        f"Noted: {named[ids[5]]} and its close neighbours will come up less.",
        f"Noted: tracks like {named[ids[6]]} will come up less."]
    assert conn.execute("SELECT track_id FROM likes").fetchall() == [(ids[4],)]
    kinds = conn.execute("SELECT track_id, kind FROM feedback ORDER BY id").fetchall()
    assert kinds == [(ids[5], "not_this"), (ids[6], "less_like_this")]
    assert run(["like", "999999"]) == 1
    capsys.readouterr()
    # The liked track now leads For you's reasons.
    out = _json(capsys, ["foryou", "-n", "10", "--json"])
    assert any(o["id"] == ids[4] and o["why"] == "you liked it" for o in out)
    # As text, each pick shows its kind: a favourite's score and a discovery's are on
    # different scales.
    assert run(["foryou", "-n", "10"]) == 0
    heads = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("     ")]
    assert len(heads) == len(out)
    assert all(line.rsplit("  ", 1)[1] == o["kind"] for line, o in zip(heads, out, strict=True))
    assert any(re.search("\u201cjazz song 4\u201d by [^,;]+, which you liked$", str(o["why"]))
               for o in out)


def test_foryou_cold_start_and_bad_like(library, capsys) -> None:  # type: ignore[no-untyped-def]
    _, ids, labels = library
    out = _json(capsys, ["foryou", "-n", "5", "--json", "--like", "genre:ambient"])
    style = dict(zip(ids, labels, strict=True))
    assert len(out) == 5 and all(style[o["id"]] == 2 for o in out)
    assert run(["foryou", "--like", "colour:blue"]) == 2
    assert "genre:NAME" in capsys.readouterr().err
    # A genre the library does not have: said, with the ones it has.
    assert run(["foryou", "--like", "genre:polka"]) == 0
    assert capsys.readouterr().out == (
        "Nothing matches genre polka in the library; its genres: ambient, jazz, metal, rock.\n")


@pytest.mark.parametrize(("argv", "says"), [
    (["foryou", "-n", "0"], "-n: must be at least 1, not 0"),
    (["similar", "1", "-n", "-2"], "-n: must be at least 1, not -2"),
    (["foryou", "--adventurous", "5"], "--adventurous: must be from 0 to 1, not 5"),
    (["foryou", "--adventurous", "nan"], "--adventurous: must be from 0 to 1, not nan"),
    (["play", "--crossfade", "11"], "--crossfade: must be from 0 to 10, not 11"),
    (["analyze", "--timeout", "0"], "--timeout: must be more than 0, not 0"),
    (["history", "--limit", "0"], "--limit: must be at least 1, not 0"),
])
def test_out_of_range_options_are_refused(argv: list[str], says: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(argv)
    assert exc.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.slow
def test_generated_audio_scanned_and_analysed_end_to_end(db_path: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Real files, the real scanner and analysis, untagged: Play similar by sound alone."""
    import numpy as np

    from player.scanner import scan
    from recommender.analysis import analyze
    from tests.media import chord, clicks, noise

    seconds = 8.0
    kinds = {
        # low, slow and dark: a bass chord over clicks at 70 BPM
        "dark": lambda k: chord([55 * (1 + 0.02 * k), 82.5], seconds) * 0.5 + clicks(70 + k, seconds) * 0.3,
        # bright, fast and noisy: hiss over clicks at 150 BPM
        "bright": lambda k: noise(seconds, amp=0.3, seed=k) + clicks(150 + k, seconds) * 0.5,
        # a sustained mid-range major chord, no beat
        "chord": lambda k: chord([440 * (1 + 0.01 * k), 554.4, 659.3], seconds) * 0.4,
    }
    music = tmp_path / "music"
    music.mkdir()
    for name, make in kinds.items():
        for k in range(4):
            make_track(music / f"{name}_{k}.flac", np.asarray(make(k), np.float32))
    scan([music], db_path, workers=1)
    report = analyze(db_path, workers=1)
    assert report.analyzed == 12 and not report.failed
    for name in kinds:
        seed = music / f"{name}_0.flac"
        out = _json(capsys, ["similar", str(seed), "-n", "3", "--json"])
        assert [Path(str(o["path"])).name.split("_")[0] for o in out] == [name] * 3, out
        assert all("\u201c" in str(o["why"]) for o in out)


@pytest.mark.slow
def test_a_track_the_analysis_cannot_use_is_named_with_its_reason(
        db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from tests.media import chord

    music = tmp_path / "music"
    make_track(music / "fine.flac", np.asarray(chord([220.0, 330.0], 4.0), np.float32), title="Fine")
    silent = make_track(music / "silent.flac", np.zeros(4 * 22_050, np.float32), title="Hush")
    assert run(["--db", str(db_path), "scan", str(music)]) == 0
    capsys.readouterr()
    assert run(["--db", str(db_path), "analyze", "--workers", "1"]) == 0
    said = capsys.readouterr()
    assert "1 failed" in said.out
    assert f"{silent}: " in said.err and "silent" in said.err  # the file, not an id

    assert run(["--db", str(db_path), "errors", "--json"]) == 0
    errors = json.loads(capsys.readouterr().out)
    assert [(e["path"], e["stage"]) for e in errors] == [(str(silent), "analysis")]
    assert "silent" in errors[0]["reason"]
    assert run(["--db", str(db_path), "errors"]) == 0
    assert capsys.readouterr().out == f"{silent}: could not analyse: {errors[0]['reason']}\n"


def test_similar_on_a_track_of_a_removed_folder_says_so(
        db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The track keeps its row (and history) when its folder leaves the library; Play
    similar on it says why it cannot, and a radio goes on from the seeds still there."""
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    for folder, artist in ((gone, "Gone Band"), (kept, "Kept Band")):
        for k in range(3):
            make_track(folder / f"{k}.flac", title=f"{artist} {k}", artist=artist, genre="Jazz")
    assert run(["--db", str(db_path), "scan", str(gone), str(kept)]) == 0
    conn = connect(db_path)
    seed = conn.execute("SELECT id FROM tracks WHERE title = 'Gone Band 0'").fetchone()[0]
    other = conn.execute("SELECT id FROM tracks WHERE title = 'Kept Band 0'").fetchone()[0]
    assert run(["--db", str(db_path), "scan", "--remove", str(gone)]) == 0
    capsys.readouterr()
    assert run(["--db", str(db_path), "similar", str(seed)]) == 1
    err = capsys.readouterr().err
    assert f"track {seed} (\u201cGone Band 0\u201d by Gone Band) is not in the library now" in err
    assert "folder was removed" in err
    for generate in (["--similar", str(seed)], ["--path", str(seed), str(other)]):
        assert run(["--db", str(db_path), "playlist", "generate", *generate]) == 1
        assert "is not in the library now" in capsys.readouterr().err
    assert conn.execute("SELECT count(*) FROM playlists WHERE kind != 'smart'").fetchone()[0] == 0
    out = _json(capsys, ["--db", str(db_path), "similar", str(seed), str(other), "--json"])
    assert {o["artist"] for o in out} == {"Kept Band"}
