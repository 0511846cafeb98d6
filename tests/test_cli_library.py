"""The library commands: scan, library, errors, search, with --json and --db."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media import jpeg_bytes, make_track, tone
from ui.cli import run

TIMBRE = Path(sys.executable).parent / "timbre"
SUMMARY_KEYS = {"added", "updated", "moved", "removed", "unchanged", "failed", "seconds"}


@pytest.fixture
def music(tmp_path: Path) -> Path:
    root = tmp_path / "music"
    make_track(root / "a.flac", tone(300, 0.5), title="Café del Mar", artist=["José González"],
               album="Veneer", genre=["Folk", "Indie"], cover=jpeg_bytes())
    make_track(root / "b.mp3", tone(400, 0.5), title="Heartbeats", artist="José González")
    make_track(root / "sub" / "c.ogg", tone(500, 0.5), title="東京", artist="くるり")
    (root / "broken.flac").write_text("not audio")
    return root


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    out = capsys.readouterr().out
    return json.loads(out)  # exactly one document, nothing else


def test_scan_library_errors_search_json(music: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "x.db")
    assert run(["--db", db, "scan", str(music), "--json"]) == 0
    summary = _json(capsys)
    assert isinstance(summary, dict) and SUMMARY_KEYS <= summary.keys()
    assert (summary["added"], summary["failed"]) == (3, 1)

    assert run(["scan", "--json", "--db", db]) == 0  # remembered roots
    assert _json(capsys)["unchanged"] == 3  # type: ignore[index]

    assert run(["library", "--json", "--db", db]) == 0
    tracks = _json(capsys)
    assert isinstance(tracks, list) and len(tracks) == 3
    columns = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(tracks)")}
    assert set(tracks[0]) == columns - {"path_bytes"}
    by_title = {t["title"]: t for t in tracks}
    assert by_title["Café del Mar"]["artists"] == ["José González"]
    assert by_title["Café del Mar"]["genres"] == ["Folk", "Indie"]
    assert by_title["東京"]["path"] == str(music / "sub" / "c.ogg")

    assert run(["errors", "--json", "--db", db]) == 0
    assert _json(capsys) == [{"path": str(music / "broken.flac"), "stage": "scan",
                              "reason": "not readable audio: the file is not a valid FLAC file"}]

    # A track asked for that is not in the library: the answer says why.
    assert run(["rate", str(music / "broken.flac"), "--db", db]) == 1
    assert capsys.readouterr().err == (
        f"timbre: {music / 'broken.flac'} is not in the library: the scan could not read it "
        "(not readable audio: the file is not a valid FLAC file)\n")
    elsewhere = tmp_path / "elsewhere.flac"
    elsewhere.write_bytes((music / "sub" / "c.ogg").read_bytes())
    assert run(["similar", str(elsewhere), "--db", db]) == 1
    assert "not in the library; add its folder with `timbre scan FOLDER`" in capsys.readouterr().err
    assert run(["play", "999", "--db", db]) == 2
    assert capsys.readouterr().err == "timbre: no track with id 999 in the library\n"

    assert run(["search", "jose", "gonz", "--json", "--db", db]) == 0
    found = _json(capsys)
    assert isinstance(found, list)
    assert {t["title"] for t in found} == {"Café del Mar", "Heartbeats"}
    assert run(["search", "cafe", "--db", db]) == 0
    assert "Café del Mar" in capsys.readouterr().out
    assert run(["search", '"(NEAR', "--json", "--db", db]) == 0
    assert _json(capsys) == []
    assert run(["search", "nothing", "like", "this", "--db", db]) == 0
    said = capsys.readouterr()
    assert (said.out, said.err) == ("", "no track matches 'nothing like this'\n")


def test_an_empty_library_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "empty.db")
    assert run(["library", "--db", db]) == 0
    said = capsys.readouterr()
    assert said.out == "" and "the library is empty" in said.err and "timbre scan" in said.err
    assert run(["errors", "--db", db]) == 0
    assert capsys.readouterr().err.startswith("no unreadable files")
    assert run(["library", "--json", "--db", db]) == 0
    assert _json(capsys) == []


def test_bad_arguments_are_clear_and_change_nothing(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "x.db"
    assert run(["--db", str(db), "scan"]) == 2
    assert "no folders" in capsys.readouterr().err
    assert run(["--db", str(db), "scan", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM roots").fetchone() == (0,)


def test_the_installed_command_prints_only_json(music: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "y.db")
    out = subprocess.run([str(TIMBRE), "--db", db, "scan", str(music), "--json"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert SUMMARY_KEYS <= json.loads(out).keys()
    out = subprocess.run([str(TIMBRE), "library", "--json", "--db", db], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert len(json.loads(out)) == 3
    human = subprocess.run([str(TIMBRE), "scan", "--db", db], capture_output=True, text=True,
                           check=True, timeout=60)
    assert "3 unchanged" in human.stdout and "1 failed" in human.stdout


def test_output_cut_short_by_a_pipe_is_no_error(music: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "z.db")
    assert run(["--db", db, "scan", str(music)]) == 0
    # `timbre library | head -1`: the reader goes away after one line
    proc = subprocess.Popen([str(TIMBRE), "library", "--db", db], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""
