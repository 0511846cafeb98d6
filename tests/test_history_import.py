"""History import: every format with real-world quirks, matching, idempotence, rematching."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from player.db import connect
from player.history import export_listens, record_plays
from player.history_formats import HistoryFormatError, read_history
from player.history_import import import_history, register_import, rematch_unmatched
from player.models import Play, TrackId
from tests.library_rows import add_track

MBID_HUNTER = "7c3a2f0e-0000-4000-8000-000000000001"


def ts(text: str) -> float:
    """Return UTC seconds for "2021-01-31 14:05"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.fixture
def conn(db_path: Path) -> sqlite3.Connection:
    return connect(db_path)


@pytest.fixture
def lib(conn: sqlite3.Connection) -> dict[str, TrackId]:
    return {
        "hunter": add_track(conn, "/m/hunter.flac", title="Hunter", artist="Björk",
                            album="Homogenic", duration_s=255.0, mb_recording_id=MBID_HUNTER),
        "suite": add_track(conn, "/m/suite.flac", title="Suite: Judy Blue Eyes",
                           artist="Crosby, Stills & Nash", album="CSN", duration_s=445.0),
        "live": add_track(conn, "/m/suite_live.flac", title="Suite: Judy Blue Eyes",
                          artist="Crosby, Stills & Nash", album="4 Way Street (Live)",
                          duration_s=600.0),
        "paranoid": add_track(conn, "/m/paranoid.flac", title="Paranoid",
                              artist="Black Sabbath", album="Paranoid", duration_s=170.0),
    }


def plays(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT track_id, started_at, end_reason, artist, title, album, imported_from "
        "FROM plays ORDER BY started_at, id").fetchall()


def stats(conn: sqlite3.Connection, track: TrackId) -> tuple[int, int]:
    row = conn.execute("SELECT play_count, skip_count FROM track_stats WHERE track_id = ?",
                       (track,)).fetchone()
    return (row[0], row[1]) if row else (0, 0)


SCROBBLER_LOCAL = (
    "#AUDIOSCROBBLER/1.1\n"
    "#TZ/UNKNOWN\n"
    "#CLIENT/Rockbox sansaclipplus $Revision$\n"
    # the recording id wins over the misspelt artist
    f"Bjork\tHomogenic\tHunter\t1\t255\tL\t{int(ts('2021-01-15 12:00'))}\t{MBID_HUNTER}\n"
    # empty album and track number; no mbid column at all
    f"Black Sabbath\t\tParanoid\t\t170\tS\t{int(ts('2021-01-15 12:05'))}\n"
    f"Black Sabbath\t\tParanoid\t\t170\tL\t{int(ts('2021-01-15 12:10'))}\t\n"
    f"Unknown Band\tDemo\tNot Here\t3\t100\tL\t{int(ts('2021-01-15 12:20'))}\t\n"
    "broken line without tabs\n"
    f"Black Sabbath\tParanoid\tParanoid\t1\t170\tL\t0\t\n"  # the player's clock was not set
)


def test_scrobbler_log_local_time(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                  tmp_path: Path) -> None:
    path = tmp_path / ".scrobbler.log"
    path.write_text(SCROBBLER_LOCAL, "utf-8")
    report = import_history(conn, path, local_tz="Europe/Paris")
    assert (report.format, report.read, report.matched, report.unmatched, report.added,
            report.duplicates, report.invalid) == ("scrobbler", 4, 3, 1, 4, 0, 2)
    assert "line 8" in report.problems[0] and "before 2000" in report.problems[1]
    hour = 3600.0  # Paris is UTC+1 in January: local 12:00 is 11:00 UTC
    assert plays(conn) == [
        (lib["hunter"], ts("2021-01-15 12:00") - hour, "imported", "Bjork", "Hunter",
         "Homogenic", "scrobbler"),
        (lib["paranoid"], ts("2021-01-15 12:05") - hour, "skipped", "Black Sabbath",
         "Paranoid", None, "scrobbler"),
        (lib["paranoid"], ts("2021-01-15 12:10") - hour, "imported", "Black Sabbath",
         "Paranoid", None, "scrobbler"),
        (None, ts("2021-01-15 12:20") - hour, "imported", "Unknown Band", "Not Here", "Demo",
         "scrobbler"),
    ]
    assert stats(conn, lib["paranoid"]) == (1, 1)
    assert stats(conn, lib["hunter"]) == (1, 0)
    again = import_history(conn, path, local_tz="Europe/Paris")
    assert (again.read, again.added, again.duplicates) == (4, 0, 4)
    assert stats(conn, lib["paranoid"]) == (1, 1)


def test_scrobbler_log_utc_and_summer_time(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                           tmp_path: Path) -> None:
    utc = tmp_path / "utc.scrobbler.log"
    utc.write_text("#AUDIOSCROBBLER/1.1\n#TZ/UTC\n#CLIENT/x\n"
                   f"Black Sabbath\tParanoid\tParanoid\t1\t170\tL\t{int(ts('2021-07-01 08:00'))}\n",
                   "utf-8")
    import_history(conn, utc, local_tz="America/New_York")  # ignored: the file says UTC
    local = tmp_path / "local.scrobbler.log"
    local.write_text("#AUDIOSCROBBLER/1.1\n#TZ/UNKNOWN\n"
                     f"Black Sabbath\tParanoid\tParanoid\t1\t170\tL\t{int(ts('2021-07-01 08:00'))}\n",
                     "utf-8")
    import_history(conn, local, local_tz="America/New_York")  # EDT is UTC-4
    assert [p[1] for p in plays(conn)] == [ts("2021-07-01 08:00"), ts("2021-07-01 12:00")]
    with pytest.raises(HistoryFormatError, match="unknown time zone"):
        import_history(conn, local, local_tz="Mars/Olympus_Mons")


def _lb_listen(at: int, artist: str, title: str, album: str | None = None,
               **info: object) -> dict[str, object]:
    return {"listened_at": at, "recording_msid": "x", "user_name": "me",
            "track_metadata": {"artist_name": artist, "track_name": title,
                               "release_name": album, "additional_info": info}}


def test_listenbrainz_old_json_array(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                     tmp_path: Path) -> None:
    items = [
        _lb_listen(int(ts("2020-05-01 10:00")), "Crosby, Stills & Nash", "Suite: Judy Blue Eyes",
                   "4 Way Street (Live)", duration_ms=601000),
        _lb_listen(int(ts("2020-05-01 10:20")), "crosby stills and nash",
                   "suite judy blue eyes", None, duration=446),
        {"listened_at": int(ts("2020-05-01 11:00")),
         "track_metadata": {"artist_name": "Someone", "track_name": "Whatever",
                            "mbid_mapping": {"recording_mbid": MBID_HUNTER}}},
        {"listened_at": "not a time", "track_metadata": {"artist_name": "A", "track_name": "B"}},
        {"track_metadata": {"artist_name": "", "track_name": "B"}, "listened_at": 1600000000},
    ]
    path = tmp_path / "listens.json"
    path.write_text(json.dumps(items), "utf-8")
    report = import_history(conn, path)
    assert (report.read, report.matched, report.added, report.invalid) == (3, 3, 3, 2)
    assert [p[0] for p in plays(conn)] == [lib["live"], lib["suite"], lib["hunter"]]


def test_listenbrainz_zip_of_monthly_jsonl(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                           tmp_path: Path) -> None:
    path = tmp_path / "listenbrainz_me_1700000000.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("user.json", json.dumps({"user_id": 1, "username": "me"}))
        z.writestr("feedback.jsonl", json.dumps({"score": 1, "recording_mbid": "x"}) + "\n")
        z.writestr("listens/2023/1.jsonl", "\n".join(json.dumps(_lb_listen(
            int(ts(f"2023-01-0{d} 09:00")), "Black Sabbath", "Paranoid", "Paranoid"))
            for d in (1, 2, 3)) + "\n")
        z.writestr("listens/2023/2.jsonl",
                   json.dumps(_lb_listen(int(ts("2023-02-01 09:00")), "Björk", "Hunter")) + "\n"
                   + "{broken json\n"
                   + json.dumps(_lb_listen(int(ts("2023-02-01 09:00")), "Björk", "Hunter")) + "\n")
    report = import_history(conn, path)
    assert (report.read, report.matched, report.added, report.duplicates, report.invalid) \
        == (5, 5, 4, 1, 1)
    assert stats(conn, lib["paranoid"]) == (3, 0)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(path.read_bytes()[:100])
    with pytest.raises(HistoryFormatError):
        import_history(conn, broken)


LASTFM_HEADERLESS = (
    # Commas stripped from names, as the common exporter does; empty album; a duplicate row.
    "Crosby Stills & Nash,CSN,Suite: Judy Blue Eyes,01 Mar 2019 20:15\n"
    "Black Sabbath,,Paranoid,01 Mar 2019 20:30\n"
    "Black Sabbath,,Paranoid,01 Mar 2019 20:30\n"
    "Björk,Homogenic,Hunter,02 Mar 2019 08:00\n"
    "Nobody,Nothing,Nowhere,03 Mar 2019 08:00\n"
    "Björk,Homogenic,Hunter,\n"  # the "now playing" row has no date
    "Too,Many,Commas,In,Here,03 Mar 2019 09:00\n"
)


def test_lastfm_headerless_csv(conn: sqlite3.Connection, lib: dict[str, TrackId],
                               tmp_path: Path) -> None:
    path = tmp_path / "lastfm.csv"
    path.write_text(LASTFM_HEADERLESS, "utf-8")
    report = import_history(conn, path)
    assert (report.format, report.read, report.matched, report.unmatched, report.added,
            report.duplicates, report.invalid) == ("lastfm", 5, 4, 1, 4, 1, 2)
    got = plays(conn)
    assert got[0][:2] == (lib["suite"], ts("2019-03-01 20:15"))  # the album picks the studio take
    assert got[1][:2] == (lib["paranoid"], ts("2019-03-01 20:30"))
    assert got[3][0] is None and got[3][4] == "Nowhere"
    assert import_history(conn, path).added == 0


def test_lastfm_csv_with_header_and_unix_times(conn: sqlite3.Connection,
                                               lib: dict[str, TrackId], tmp_path: Path) -> None:
    path = tmp_path / "scrobbles.csv"
    path.write_text(
        '"uts","utc_time","artist","artist_mbid","album","album_mbid","track","track_mbid"\n'
        f'"{int(ts("2018-06-01 12:00"))}","01 Jun 2018, 12:00","Crosby, Stills & Nash","",'
        '"4 Way Street (Live)","","Suite: Judy Blue Eyes",""\n'
        f'"{int(ts("2018-06-01 12:15"))}","01 Jun 2018, 12:15","Some Artist","","","",'
        f'"Unknown Song","{MBID_HUNTER}"\n',
        "utf-8")
    report = import_history(conn, path, fmt="lastfm")
    assert (report.read, report.matched, report.added) == (2, 2, 2)
    assert [p[0] for p in plays(conn)] == [lib["live"], lib["hunter"]]


def test_unmatched_listens_are_matched_after_a_later_scan(
        conn: sqlite3.Connection, lib: dict[str, TrackId], tmp_path: Path) -> None:
    path = tmp_path / "lastfm.csv"
    path.write_text("Nobody,Nothing,Nowhere,03 Mar 2019 08:00\n"
                    "Nobody,Nothing,Nowhere,04 Mar 2019 08:00\n", "utf-8")
    assert import_history(conn, path).unmatched == 2
    assert rematch_unmatched(conn) == 0
    new = add_track(conn, "/m/nowhere.flac", title="Nowhere", artist="Nobody", album="Nothing")
    assert rematch_unmatched(conn) == 2
    assert [p[0] for p in plays(conn)] == [new, new]
    row = conn.execute("SELECT play_count, first_played, last_played FROM track_stats "
                       "WHERE track_id = ?", (new,)).fetchone()
    assert row == (2, ts("2019-03-03 08:00"), ts("2019-03-04 08:00"))
    assert rematch_unmatched(conn) == 0
    assert import_history(conn, path).added == 0


def test_our_export_round_trips(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                tmp_path: Path, db_path: Path) -> None:
    native = [
        Play(track_id=lib["hunter"], started_at=1_650_000_000.25, ended_at=1_650_000_255.0,
             heard_ms=254_000, fraction=0.99, end_reason="finished"),
        Play(track_id=lib["paranoid"], started_at=1_650_000_300.5, ended_at=1_650_000_310.0,
             heard_ms=9_500, fraction=0.05, end_reason="skipped"),
    ]
    record_plays(conn, native)
    out = io.StringIO()
    assert export_listens(conn, out) == 2
    path = tmp_path / "export.jsonl"
    path.write_text(out.getvalue(), "utf-8")
    same = import_history(conn, path)
    assert (same.read, same.matched, same.added, same.duplicates) == (2, 2, 0, 2)
    # Into another library holding the same music, the plays come back as they were.
    other = connect(tmp_path / "other.db")
    for path_ in ("/m/paranoid.flac", "/x/hunter.flac"):
        add_track(other, path_, title="Paranoid" if "paranoid" in path_ else "Hunter",
                  artist="Black Sabbath" if "paranoid" in path_ else "Björk",
                  duration_s=170.0 if "paranoid" in path_ else 255.0)
    report = import_history(other, path)
    assert (report.read, report.matched, report.added) == (2, 2, 2)
    assert plays(other) == [
        (2, 1_650_000_000.25, "finished", "Björk", "Hunter", "Homogenic", "listenbrainz"),
        (1, 1_650_000_300.5, "skipped", "Black Sabbath", "Paranoid", "Paranoid", "listenbrainz"),
    ]
    assert other.execute("SELECT fraction, heard_ms FROM plays ORDER BY started_at").fetchall() \
        == [(0.99, 254_000), (0.05, 9_500)]


def test_unknown_files_are_refused(conn: sqlite3.Connection, tmp_path: Path) -> None:
    blob = tmp_path / "photo.jpg"
    blob.write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF\0" * 10)
    with pytest.raises(HistoryFormatError):
        import_history(conn, blob)
    bad = tmp_path / "bad.json"
    bad.write_text("[{\"listened_at\": 1", "utf-8")
    with pytest.raises(HistoryFormatError, match="not valid JSON"):
        import_history(conn, bad)
    assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == 0


def test_detects_formats(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(SCROBBLER_LOCAL, "utf-8")
    (tmp_path / "b.txt").write_text(LASTFM_HEADERLESS, "utf-8")
    assert read_history(tmp_path / "a.log").format == "scrobbler"
    assert read_history(tmp_path / "b.txt").format == "lastfm"


def test_history_import_command(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                tmp_path: Path, db_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="timbre")
    history = parser.add_subparsers(dest="command").add_parser("history")
    register_import(history.add_subparsers(dest="history_command"))
    path = tmp_path / "lastfm.csv"
    path.write_text(LASTFM_HEADERLESS, "utf-8")
    args = parser.parse_args(["history", "import", str(path), "--json"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert {k: doc[k] for k in ("read", "matched", "unmatched", "added", "duplicates")} == \
        {"read": 5, "matched": 4, "unmatched": 1, "added": 4, "duplicates": 1}
    assert "line 6" in err
    args = parser.parse_args(["history", "import", str(path), "--format", "lastfm"])
    assert args.func(args) == 0
    assert "0 added, 5 already there" in capsys.readouterr().out


def test_timbre_history_import_is_wired(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                        tmp_path: Path, db_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import run

    path = tmp_path / "lastfm.csv"
    path.write_text(LASTFM_HEADERLESS, "utf-8")
    assert run(["history", "import", str(path), "--format", "auto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 4
    assert run(["history", "import", str(tmp_path / "missing.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_a_real_scan_matches_kept_listens(db_path: Path, tmp_path: Path) -> None:
    from threading import Event

    from player.scanner import scan
    from tests.media import make_track

    conn = connect(db_path)
    history = tmp_path / "lastfm.csv"
    history.write_text("Nobody,Nothing,Nowhere,03 Mar 2019 08:00\n", "utf-8")
    assert import_history(conn, history).unmatched == 1
    music = tmp_path / "music"
    make_track(music / "nowhere.flac", title="Nowhere", artist="Nobody", album="Nothing")
    report = scan([music], db_path, cancel=Event())
    assert report.added == 1 and report.rematched == 1
    track_id = conn.execute("SELECT id FROM tracks").fetchone()[0]
    assert [p[0] for p in plays(conn)] == [track_id]
    assert stats(conn, track_id) == (1, 0)
