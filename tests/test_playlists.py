"""Manual and smart playlists stored in a real library database."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from player.db import connect
from player.feedback import like
from player.history import record_plays
from player.models import Play, TrackId
from player.playlists import (
    SMART,
    PlaylistError,
    RuleError,
    add_tracks,
    create_playlist,
    delete_playlist,
    ensure_default_playlists,
    evaluate_rules,
    get_playlist,
    list_playlists,
    move_tracks,
    playlist_tracks,
    remove_positions,
    remove_tracks,
    rename_playlist,
    reorder,
    replace_auto_mixes,
    set_rating,
    set_rules,
)
from tests.library_rows import add_features, add_track

DAY = 86_400.0
NOW = time.time()


@pytest.fixture
def conn(db_path: Path) -> sqlite3.Connection:
    return connect(db_path)


@pytest.fixture
def lib(conn: sqlite3.Connection) -> dict[str, TrackId]:
    """Six tracks with distinct tags, stats, features, likes and ratings."""
    ids = {
        "jazz": add_track(conn, "/m/jazz.flac", title="So What", artist="Miles Davis",
                          genre="Jazz", year=1959, added_at=NOW - 800 * DAY),
        "rock": add_track(conn, "/m/rock.flac", title="Paranoid", artist="Black Sabbath",
                          genre="Rock; Metal", year=1970, bpm=163.0, added_at=NOW - 400 * DAY),
        "cafe": add_track(conn, "/m/cafe.flac", title="Café Olé", artist="Zoé",
                          genre="Pop", year=2020, added_at=NOW - 2 * DAY),
        "fast": add_track(conn, "/m/fast.flac", title="Sprint", artist="Runner",
                          genre="Electronic", year=2021, added_at=NOW - 10 * DAY),
        "slow": add_track(conn, "/m/slow.flac", title="Drift", artist="Sleeper",
                          genre="Ambient", year=2001, added_at=NOW - 500 * DAY),
        "odd": add_track(conn, "/m/odd.flac", title="Robert'); DROP TABLE tracks;--",
                         artist="100% Evil_", genre=None, added_at=NOW - 1 * DAY),
    }
    add_features(conn, ids["fast"], tempo_bpm=174.0, energy=0.9)
    add_features(conn, ids["slow"], tempo_bpm=70.0, energy=0.1)
    add_features(conn, ids["jazz"], tempo_bpm=136.0, energy=0.4)
    plays = []
    for i in range(5):
        plays.append(Play(track_id=ids["rock"], started_at=NOW - (i + 1) * DAY, fraction=1.0))
    for i in range(2):
        plays.append(Play(track_id=ids["fast"], started_at=NOW - 3 * DAY - i, fraction=1.0))
    plays.append(Play(track_id=ids["fast"], started_at=NOW - 3 * DAY - 9, fraction=0.1,
                      end_reason="skipped"))
    plays.append(Play(track_id=ids["jazz"], started_at=NOW - 700 * DAY, fraction=1.0))
    record_plays(conn, plays)
    like(conn, ids["cafe"], at=NOW - 5)
    like(conn, ids["jazz"], at=NOW - 100)
    set_rating(conn, ids["jazz"], 5)
    set_rating(conn, ids["slow"], 2)
    return ids


def pick(conn: sqlite3.Connection, rules: dict[str, object]) -> list[TrackId]:
    return evaluate_rules(conn, rules, now=NOW)


def rule(field: str, op: str, value: object = None) -> dict[str, object]:
    return {"field": field, "op": op, "value": value}


def test_manual_playlist_lifecycle(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    pid = create_playlist(conn, "Road trip")
    assert add_tracks(conn, pid, [lib["jazz"], lib["rock"], lib["cafe"]]) == 3
    add_tracks(conn, pid, [lib["fast"]], position=1)
    assert playlist_tracks(conn, pid) == [lib["jazz"], lib["fast"], lib["rock"], lib["cafe"]]
    assert move_tracks(conn, pid, [3], 0) == [lib["cafe"], lib["jazz"], lib["fast"], lib["rock"]]
    reorder(conn, pid, [lib["rock"], lib["fast"], lib["jazz"], lib["cafe"]])
    assert playlist_tracks(conn, pid) == [lib["rock"], lib["fast"], lib["jazz"], lib["cafe"]]
    assert remove_positions(conn, pid, [0]) == 1
    add_tracks(conn, pid, [lib["jazz"]])  # duplicates are allowed, as in files
    assert remove_tracks(conn, pid, [lib["jazz"]]) == 2
    assert playlist_tracks(conn, pid) == [lib["fast"], lib["cafe"]]
    positions = [r[0] for r in conn.execute(
        "SELECT position FROM playlist_tracks WHERE playlist_id = ? ORDER BY position", (pid,))]
    assert positions == [0, 1]
    rename_playlist(conn, pid, "  Long   drive ")
    assert get_playlist(conn, "long drive").id == pid
    delete_playlist(conn, pid)
    assert conn.execute("SELECT count(*) FROM playlist_tracks").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == len(lib)


def test_manual_playlist_errors_change_nothing(conn: sqlite3.Connection,
                                               lib: dict[str, TrackId]) -> None:
    pid = create_playlist(conn, "Mine", track_ids=[lib["jazz"]])
    with pytest.raises(PlaylistError, match="already exists"):
        create_playlist(conn, "MINE")
    with pytest.raises(PlaylistError, match="no track with id 999"):
        add_tracks(conn, pid, [lib["rock"], TrackId(999)])
    with pytest.raises(PlaylistError, match="needs a name"):
        rename_playlist(conn, pid, "   ")
    with pytest.raises(PlaylistError, match="exactly the playlist's entries"):
        reorder(conn, pid, [lib["rock"]])
    assert playlist_tracks(conn, pid) == [lib["jazz"]]
    smart = create_playlist(conn, "Rules", kind=SMART, rules={"rules": []})
    with pytest.raises(PlaylistError, match="smart playlist"):
        add_tracks(conn, smart, [lib["jazz"]])


def test_deleted_track_leaves_playlists(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    pid = create_playlist(conn, "P", track_ids=[lib["jazz"], lib["rock"]])
    conn.execute("DELETE FROM tracks WHERE id = ?", (lib["jazz"],))
    assert playlist_tracks(conn, pid) == [lib["rock"]]


def test_text_rules_ignore_case_and_accents(conn: sqlite3.Connection,
                                            lib: dict[str, TrackId]) -> None:
    assert pick(conn, {"rules": [rule("title", "contains", "cafe ole")]}) == [lib["cafe"]]
    assert pick(conn, {"rules": [rule("artist", "is", "ZOE")]}) == [lib["cafe"]]
    assert pick(conn, {"rules": [rule("title", "starts_with", "para")]}) == [lib["rock"]]
    assert pick(conn, {"rules": [rule("title", "ends_with", "WHAT")]}) == [lib["jazz"]]
    # "is" on genre matches one of several genres; "is not" excludes the track.
    assert pick(conn, {"rules": [rule("genre", "is", "metal")]}) == [lib["rock"]]
    not_metal = pick(conn, {"rules": [rule("genre", "is_not", "metal")]})
    assert lib["rock"] not in not_metal and lib["odd"] in not_metal
    assert pick(conn, {"rules": [rule("genre", "is_empty")]}) == [lib["odd"]]
    # LIKE wildcards and quotes in values are plain text.
    assert pick(conn, {"rules": [rule("artist", "contains", "0% evil_")]}) == [lib["odd"]]
    assert pick(conn, {"rules": [rule("artist", "contains", "%")]}) == [lib["odd"]]
    assert pick(conn, {"rules": [rule("title", "is", "Robert'); DROP TABLE tracks;--")]}) \
        == [lib["odd"]]
    assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == len(lib)


def test_number_date_and_stat_rules(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    assert pick(conn, {"rules": [rule("bpm", "between", [160, 180])], "sort": "bpm"}) \
        == [lib["rock"], lib["fast"]]  # tag BPM 163 for rock, analysed 174 for fast
    assert pick(conn, {"rules": [rule("energy", ">=", 0.5)]}) == [lib["fast"]]
    assert pick(conn, {"rules": [rule("year", "<", 1970)]}) == [lib["jazz"]]
    assert pick(conn, {"rules": [rule("play_count", ">=", 5)]}) == [lib["rock"]]
    assert pick(conn, {"rules": [rule("skip_count", "=", 1)]}) == [lib["fast"]]
    assert pick(conn, {"rules": [rule("rating", ">=", 4)]}) == [lib["jazz"]]
    assert set(pick(conn, {"rules": [rule("rating", "=", 0)]})) == \
        {lib["rock"], lib["cafe"], lib["fast"], lib["odd"]}
    assert pick(conn, {"rules": [rule("liked", "is", True)], "sort": "-liked_at"}) \
        == [lib["cafe"], lib["jazz"]]
    assert set(pick(conn, {"rules": [rule("added", "in_last", 7)]})) == {lib["cafe"], lib["odd"]}
    recent = pick(conn, {"rules": [rule("last_played", "in_last", 4)]})
    assert set(recent) == {lib["rock"], lib["fast"]}
    long_ago = pick(conn, {"rules": [rule("last_played", "not_in_last", 365)]})
    assert lib["jazz"] in long_ago and lib["slow"] in long_ago  # never played counts
    assert lib["rock"] not in long_ago
    assert pick(conn, {"rules": [rule("added", "before", "2000-01-01")]}) == []


def test_all_any_groups_sort_and_limit(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    rules = {"match": "any", "rules": [
        rule("genre", "is", "jazz"),
        {"match": "all", "rules": [rule("year", ">", 2000), rule("energy", ">", 0.5)]},
    ], "sort": [{"field": "year", "order": "desc"}]}
    assert pick(conn, rules) == [lib["fast"], lib["jazz"]]
    everything = pick(conn, {"rules": [], "sort": "-play_count", "limit": 2})
    assert everything == [lib["rock"], lib["fast"]]
    assert pick(conn, {"rules": [], "sort": "title"})[:2] == [lib["cafe"], lib["slow"]]


@pytest.mark.parametrize("rules, message", [
    ({"rules": [rule("password; DROP", "is", "x")]}, "unknown field"),
    ({"rules": [rule("title", "LIKE", "x")]}, "unknown operator"),
    ({"rules": [rule("year", ">", "1990 OR 1=1")]}, "not a number"),
    ({"rules": [rule("added", "before", "yesterday")]}, "not a date"),
    ({"rules": [rule("bpm", "between", [1])]}, "two values"),
    ({"match": "some", "rules": []}, '"match"'),
    ({"rules": [], "sort": "id; DROP TABLE tracks"}, "cannot sort"),
    ({"rules": [], "limit": "10"}, "limit"),
    ({"rules": [rule("liked", "is", "yes")]}, "true or false"),
])
def test_bad_rules_are_refused_with_a_reason(conn: sqlite3.Connection, lib: dict[str, TrackId],
                                              rules: dict[str, object], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        pick(conn, rules)
    with pytest.raises(RuleError):
        create_playlist(conn, "Bad", kind=SMART, rules=rules)
    assert list_playlists(conn) == []


def test_smart_playlist_updates_live(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    pid = create_playlist(conn, "Jazz", kind=SMART, rules={"rules": [rule("genre", "is", "jazz")]})
    assert playlist_tracks(conn, pid) == [lib["jazz"]]
    new = add_track(conn, "/m/new.flac", title="Blue", artist="Someone", genre="Jazz")
    assert playlist_tracks(conn, pid) == [lib["jazz"], new]


def test_default_smart_playlists(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    created = ensure_default_playlists(conn)
    names = {p.name for p in list_playlists(conn)}
    assert names == {"Recently added", "Most played", "Not played for a year", "Liked"}
    assert len(created) == 4
    got = {n: playlist_tracks(conn, get_playlist(conn, n).id, now=NOW) for n in names}
    assert got["Recently added"][:2] == [lib["odd"], lib["cafe"]]
    assert got["Most played"] == [lib["rock"], lib["fast"], lib["jazz"]]
    assert set(got["Not played for a year"]) == {lib["jazz"], lib["slow"]}
    assert got["Liked"] == [lib["cafe"], lib["jazz"]]
    delete_playlist(conn, get_playlist(conn, "Liked").id)
    assert ensure_default_playlists(conn) == []  # a deleted default stays deleted
    assert "Liked" not in {p.name for p in list_playlists(conn)}


def test_random_sort_and_editing_rules(conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    shuffled = pick(conn, {"rules": [], "sort": "random"})
    assert sorted(shuffled) == sorted(lib.values())
    pid = create_playlist(conn, "Era", kind=SMART, rules={"rules": [rule("year", "<", 1980)]})
    assert set(playlist_tracks(conn, pid)) == {lib["jazz"], lib["rock"]}
    set_rules(conn, pid, {"rules": [rule("year", ">=", 2020)], "sort": "year"})
    assert playlist_tracks(conn, pid) == [lib["cafe"], lib["fast"]]
    with pytest.raises(RuleError):
        set_rules(conn, pid, {"rules": [rule("year", "~", 1)]})
    assert playlist_tracks(conn, pid) == [lib["cafe"], lib["fast"]]
    with pytest.raises(PlaylistError, match="1 to 5"):
        set_rating(conn, lib["jazz"], 6)
    set_rating(conn, lib["jazz"], 0)
    assert pick(conn, {"rules": [rule("rating", ">", 0)]}) == [lib["slow"]]


def test_automatic_mixes_replace_their_own_set_only(
        conn: sqlite3.Connection, lib: dict[str, TrackId]) -> None:
    mine = create_playlist(conn, "Calm evening")
    replace_auto_mixes(conn, [("Fast, bright", [lib["fast"], lib["rock"]], "fast and bright"),
                              ("Calm evening", [lib["slow"]], "taken by the user")])
    names = {p.name: p for p in list_playlists(conn)}
    assert playlist_tracks(conn, names["Fast, bright"].id) == [lib["fast"], lib["rock"]]
    assert names["Calm evening"].id == mine  # the user's playlist was not taken over
    # The next refresh drops mixes that no longer exist and keeps the user's playlists.
    replace_auto_mixes(conn, [("Slow, dark", [lib["slow"], lib["jazz"]], "slow")])
    names = {p.name for p in list_playlists(conn)}
    assert "Fast, bright" not in names and {"Slow, dark", "Calm evening"} <= names
