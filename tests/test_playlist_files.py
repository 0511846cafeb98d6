"""Playlist files: every format round-trips, entries resolve to library tracks, and hostile
files are refused with a reason instead of being followed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from player.db import connect
from player.models import TrackId
from player.playlist_files import PlaylistFileError, read_playlist
from player.playlist_io import (
    REASON_CLIMBS,
    REASON_NOT_FOUND,
    REASON_OUTSIDE,
    REASON_URL,
    export_playlist,
    import_playlist,
)
from player.playlists import create_playlist, get_playlist, list_playlists, playlist_tracks
from tests.library_rows import add_root, add_track


@pytest.fixture
def conn(db_path: Path) -> sqlite3.Connection:
    return connect(db_path)


@pytest.fixture
def music(tmp_path: Path) -> Path:
    root = tmp_path / "Music"
    root.mkdir()
    return root


@pytest.fixture
def lib(conn: sqlite3.Connection, music: Path) -> list[TrackId]:
    """Four tracks under one root, with awkward names: accents, commas, spaces, a '#'."""
    add_root(conn, music)
    specs = [
        ("Björk/Homogenic/01 Hunter.flac", "Hunter", "Björk", "Homogenic", 255.0),
        ("Crosby, Stills & Nash/CSN/01 Suite #1.mp3", "Suite: Judy Blue Eyes",
         "Crosby, Stills & Nash", "CSN", 445.0),
        ("Various/Mix/02 Track - Two.ogg", "Track - Two", "DJ A - B", "Mix", 180.0),
        ("日本/曲.opus", "曲", "歌手", None, 61.0),
    ]
    ids = []
    for rel, title, artist, album, duration in specs:
        path = music / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")  # resolution reads paths, never file contents
        ids.append(add_track(conn, path, title=title, artist=artist, album=album,
                             duration_s=duration))
    return ids


@pytest.mark.parametrize("suffix", [".m3u", ".m3u8", ".pls", ".xspf"])
@pytest.mark.parametrize("absolute", [False, True])
def test_each_format_round_trips(conn: sqlite3.Connection, lib: list[TrackId], music: Path,
                                 suffix: str, absolute: bool) -> None:
    order = [lib[3], lib[1], lib[0], lib[2], lib[1]]
    create_playlist(conn, "Source", track_ids=order)
    out = music / f"Exported{suffix}"
    written, skipped = export_playlist(conn, "Source", out, absolute=absolute)
    assert (written, skipped) == (5, [])
    text = out.read_bytes().decode("utf-8")
    assert (str(music) in text or "file://" in text) == absolute
    result = import_playlist(conn, out)
    assert result.name == "Exported"
    assert result.unresolved == []
    assert playlist_tracks(conn, result.playlist_id) == order


@pytest.mark.parametrize("suffix", [".m3u8", ".pls", ".xspf"])
def test_playlist_from_another_machine_resolves_by_path_end_and_tags(
        conn: sqlite3.Connection, lib: list[TrackId], music: Path, tmp_path: Path,
        suffix: str) -> None:
    create_playlist(conn, "Away", track_ids=lib)
    other = tmp_path / "other.m3u8"
    export_playlist(conn, "Away", other, absolute=True)
    foreign = other.read_text("utf-8").replace(str(music), "/home/someone/Musik")
    foreign = foreign.replace("/home/someone/Musik/日本/曲.opus", "D:\\Lieder\\renamed.opus")
    (tmp_path / "foreign.m3u8").write_text(foreign, "utf-8")
    # Re-export through our own reader so each format carries the foreign paths.
    entries = read_playlist(tmp_path / "foreign.m3u8")
    assert entries[3].location == "D:\\Lieder\\renamed.opus"
    result = import_playlist(conn, tmp_path / "foreign.m3u8")
    assert playlist_tracks(conn, result.playlist_id) == lib  # last one by its EXTINF tags


def test_hand_written_m3u_with_relative_uri_and_tag_entries(
        conn: sqlite3.Connection, lib: list[TrackId], music: Path, tmp_path: Path) -> None:
    folder = music / "Playlists"
    folder.mkdir()
    uri = (music / "Björk/Homogenic/01 Hunter.flac").as_uri()
    (folder / "mine.m3u").write_text(
        "#EXTM3U\n"
        "\n"
        "../Crosby, Stills & Nash/CSN/01 Suite #1.mp3\n"
        f"{uri}\n"
        "#EXTINF:183,DJ A - B - Track - Two\n"
        "gone/missing file.ogg\n"
        "#EXTINF:61,歌手 - 曲\n"
        "/nowhere/曲.opus\n"
        "#EXTINF:100,Nobody - Nothing\n"
        "nothing.mp3\n",
        "utf-8",
    )
    result = import_playlist(conn, folder / "mine.m3u")
    assert playlist_tracks(conn, result.playlist_id) == [lib[1], lib[0], lib[2], lib[3]]
    assert [(u.position, u.reason) for u in result.unresolved] == [(4, REASON_NOT_FOUND)]


def test_hostile_entries_are_rejected_with_reasons(
        conn: sqlite3.Connection, lib: list[TrackId], music: Path) -> None:
    folder = music / "Playlists"
    folder.mkdir()
    (folder / "evil.m3u").write_text(
        "../../../../../../etc/passwd\n"
        "../../etc/hostname\n"
        "/etc/shadow\n"
        "http://127.0.0.1:9/steal.mp3\n"
        "https://example.invalid/a.flac\n"
        "smb://server/share/x.mp3\n"
        "file:///etc/passwd\n"
        "../Björk/Homogenic/01 Hunter.flac\n",
        "utf-8",
    )
    result = import_playlist(conn, folder / "evil.m3u")
    assert playlist_tracks(conn, result.playlist_id) == [lib[0]]
    reasons = [(u.location, u.reason) for u in result.unresolved]
    assert reasons == [
        ("../../../../../../etc/passwd", REASON_CLIMBS),
        ("../../etc/hostname", REASON_CLIMBS),
        ("/etc/shadow", REASON_OUTSIDE),
        ("http://127.0.0.1:9/steal.mp3", REASON_URL),
        ("https://example.invalid/a.flac", REASON_URL),
        ("smb://server/share/x.mp3", REASON_URL),
        ("file:///etc/passwd", REASON_OUTSIDE),
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList>
<track><location>&lol9;</location></track></trackList></playlist>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList>
<track><location>&x;</location></track></trackList></playlist>
"""


@pytest.mark.parametrize("name, data, message", [
    ("laughs.xspf", BILLION_LAUGHS, "refused"),
    ("external.xspf", EXTERNAL_ENTITY, "refused"),
    ("broken.xspf", b"<playlist><trackList><track><location>a.mp3</trackList>", "well-formed"),
    ("empty.xspf", b"", "well-formed"),
    ("other.xspf", b"<html><body>hi</body></html>", "not an XSPF playlist"),
    ("codec.xspf", b'<?xml version="1.0" encoding="x-klingon"?><playlist/>', "x-klingon"),
    ("bad.m3u8", b"#EXTM3U\n/music/caf\xe9.mp3\n", "not valid UTF-8"),
    ("noise.m3u", b"\x81\x8d\x8f\x90\x9d\xff\xfe\x00", "not a text playlist"),
    ("legacy.m3u", b"/music/\x81\x8d\x8f\x90\x9d.mp3\n", "neither UTF-8 nor cp1252"),
])
def test_hostile_files_are_refused_and_nothing_is_stored(
        conn: sqlite3.Connection, lib: list[TrackId], tmp_path: Path, name: str, data: bytes,
        message: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(PlaylistFileError, match=message):
        import_playlist(conn, tmp_path / name)
    assert list_playlists(conn) == []


def test_legacy_codepage_and_utf16_m3u(conn: sqlite3.Connection, lib: list[TrackId],
                                       music: Path) -> None:
    line = "#EXTINF:255,Björk - Hunter\nBjörk/Homogenic/01 Hunter.flac\n"
    (music / "old.m3u").write_bytes(line.encode("cp1252"))
    (music / "wide.m3u").write_bytes(b"\xff\xfe" + line.encode("utf-16-le"))
    (music / "bom.m3u8").write_bytes(b"\xef\xbb\xbf" + line.encode("utf-8"))
    for name in ("old.m3u", "wide.m3u", "bom.m3u8"):
        result = import_playlist(conn, music / name)
        assert playlist_tracks(conn, result.playlist_id) == [lib[0]], name
    entries = read_playlist(music / "old.m3u")
    assert entries[0].artist == "Björk" and entries[0].duration_s == 255.0


def test_pls_and_xspf_written_by_other_players(conn: sqlite3.Connection, lib: list[TrackId],
                                               music: Path) -> None:
    (music / "win.pls").write_text(
        "[Playlist]\r\nNumberOfEntries=3\r\nFile2=Björk\\Homogenic\\01 Hunter.flac\r\n"
        "File1=http://radio.invalid/stream\r\nTitle1=Some radio\r\nLength1=-1\r\n"
        "Title3=歌手 - 曲\r\nFile3=C:\\Users\\me\\Music\\x\\y.opus\r\nVersion=2\r\n", "utf-8")
    result = import_playlist(conn, music / "win.pls")
    assert playlist_tracks(conn, result.playlist_id) == [lib[0], lib[3]]
    assert [u.reason for u in result.unresolved] == [REASON_URL]
    (music / "vlc.xspf").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<playlist xmlns="http://xspf.org/ns/0/" xmlns:vlc="http://www.videolan.org" '
        'version="1"><title>Playlist</title><trackList>'
        '<track><location>Crosby,%20Stills%20&amp;%20Nash/CSN/01%20Suite%20%231.mp3</location>'
        '<extension application="http://www.videolan.org/vlc/playlist/0">'
        '<vlc:id>0</vlc:id></extension></track>'
        '<track><location>https://x.invalid/a.ogg</location><title>Track - Two</title>'
        '<creator>DJ A - B</creator><duration>180000</duration></track>'
        '<track><title>no location</title></track>'
        '</trackList></playlist>', "utf-8")
    result = import_playlist(conn, music / "vlc.xspf", name="From VLC")
    # The URL entry resolves by its tags to the local copy: nothing is fetched.
    assert playlist_tracks(conn, result.playlist_id) == [lib[1], lib[2]]
    assert result.name == "From VLC"


def test_import_name_never_clobbers(conn: sqlite3.Connection, lib: list[TrackId],
                                    music: Path) -> None:
    (music / "Mix.m3u8").write_text("Björk/Homogenic/01 Hunter.flac\n", "utf-8")
    names = [import_playlist(conn, music / "Mix.m3u8").name for _ in range(3)]
    assert names == ["Mix", "Mix (2)", "Mix (3)"]


def test_export_keeps_untrusted_tags_on_one_line(conn: sqlite3.Connection, music: Path) -> None:
    add_root(conn, music)
    tid = add_track(conn, music / "x.flac", title="Evil\n/etc/passwd\r\n#EXTINF:1,x",
                    artist="A\x00B")
    create_playlist(conn, "E", track_ids=[tid])
    for suffix in (".m3u8", ".pls", ".xspf"):
        export_playlist(conn, "E", music / f"e{suffix}")
        assert [e.location for e in read_playlist(music / f"e{suffix}")] == ["x.flac"]


def test_playlist_commands(conn: sqlite3.Connection, lib: list[TrackId], music: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import run

    assert run(["playlist", "create", "Mine"]) == 0
    assert run(["playlist", "add", "Mine", str(lib[0]), str(lib[1])]) == 0
    assert run(["playlist", "add", "mine", "--search", "björk", "--at", "1"]) == 0
    assert run(["playlist", "move", "Mine", "3", "1"]) == 0
    assert run(["playlist", "remove", "Mine", "2"]) == 0
    capsys.readouterr()
    assert run(["playlist", "show", "Mine", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [t["id"] for t in shown["tracks"]] == [lib[1], lib[0]]
    assert run(["playlist", "create", "Folk", "--rules",
                '{"rules": [{"field": "artist", "op": "contains", "value": "nash"}]}']) == 0
    assert run(["playlist", "create", "Broken", "--rules", '{"rules": [{"field": "x"}]}']) == 1
    assert "unknown field" in capsys.readouterr().err
    assert run(["playlist", "list", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["Folk"]["tracks"] == 1 and listed["Mine"]["tracks"] == 2
    assert {"Recently added", "Most played", "Not played for a year", "Liked"} <= set(listed)
    assert run(["playlist"]) == 0  # no subcommand: the list, as text
    text = capsys.readouterr().out
    assert all(name in text for name in listed), (text, list(listed))
    out = music / "mine.xspf"
    assert run(["playlist", "export", "Mine", str(out)]) == 0
    (music / "evil.m3u").write_text("../../etc/passwd\nBjörk/Homogenic/01 Hunter.flac\n", "utf-8")
    capsys.readouterr()
    assert run(["playlist", "import", str(music / "evil.m3u"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resolved"] == 1 and report["unresolved"] == [
        {"position": 1, "location": "../../etc/passwd", "reason": REASON_CLIMBS}]
    assert run(["playlist", "import", str(out), "--name", "Back"]) == 0
    assert run(["playlist", "rename", "Back", "Again"]) == 0
    assert playlist_tracks(conn, get_playlist(conn, "Again").id) == [lib[1], lib[0]]
    assert run(["playlist", "delete", "Again"]) == 0
    assert run(["playlist", "show", "Again"]) == 1
    assert "no playlist" in capsys.readouterr().err


def test_scanned_library_round_trip_and_history_match(tmp_path: Path, db_path: Path) -> None:
    """The same flows on files the real scanner read: paths and tags as it stores them."""
    from player.history_import import import_history
    from player.scanner import scan
    from tests.media import make_track, tone

    music = tmp_path / "Bibliothèque"
    make_track(music / "A" / "één.flac", tone(220), title="Één", artist="Zoë", album="X",
               mb_recording_id="11111111-2222-4333-8444-555555555555")
    make_track(music / "B" / "two, three.mp3", tone(330), title="Two, Three", artist="AC/DC")
    make_track(music / "B" / "four.ogg", tone(440), title="Four", artist="The Band")
    scan([music], db_path)
    conn = connect(db_path)
    ids = {title: TrackId(tid) for tid, title in conn.execute("SELECT id, title FROM tracks")}
    order = [ids["Four"], ids["Één"], ids["Two, Three"]]
    create_playlist(conn, "Scanned", track_ids=order)
    for suffix in (".m3u8", ".pls", ".xspf"):
        out = music / f"s{suffix}"
        export_playlist(conn, "Scanned", out)
        assert playlist_tracks(conn, import_playlist(conn, out).playlist_id) == order
    csv = tmp_path / "lastfm.csv"
    csv.write_text('"uts","artist","album","track","track_mbid"\n'
                   '"1600000000","Someone","","Renamed","11111111-2222-4333-8444-555555555555"\n'
                   '"1600000300","ac dc","","two three",""\n'
                   '"1600000600","Band","","FOUR",""\n', "utf-8")
    report = import_history(conn, csv)
    assert (report.matched, report.unmatched) == (3, 0)
    assert [r[0] for r in conn.execute("SELECT track_id FROM plays ORDER BY started_at")] == \
        [ids["Één"], ids["Two, Three"], ids["Four"]]
