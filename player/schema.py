"""The database schema as numbered migrations; the newest number is SCHEMA_VERSION.

Each migration is a list of statements applied with the version bump in one
transaction, so a crash mid-migration leaves the previous version intact. Append new
migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATION_1 = [
    # Library folders the user added. A root that is missing at scan time is reported,
    # and its tracks are kept.
    """CREATE TABLE roots (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,             -- for display (non-UTF-8 bytes escaped)
        path_bytes BLOB NOT NULL UNIQUE, -- the real file-system path
        added_at REAL NOT NULL,
        last_scan_at REAL,
        last_scan_status TEXT           -- ok | missing | cancelled
    )""",
    # Cover art, deduplicated by content hash; the image and thumbnail live in the cache.
    """CREATE TABLE covers (
        hash TEXT PRIMARY KEY,          -- sha1 of the image bytes
        mime TEXT,
        source TEXT NOT NULL,           -- embedded | folder
        size_bytes INTEGER NOT NULL,
        width INTEGER,
        height INTEGER,
        image_path TEXT,                -- full image in the cache dir
        thumb_path TEXT                 -- small thumbnail in the cache dir
    )""",
    # One row per audio file. The id is the track's identity: it survives retagging,
    # moves and renames, and everything else (plays, likes, features) refers to it.
    """CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        path_bytes BLOB NOT NULL UNIQUE,
        root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        title TEXT NOT NULL,
        artist TEXT,                    -- all artists joined with '; '
        artists TEXT,                   -- JSON list
        album TEXT,
        albumartist TEXT,
        tracknumber INTEGER,
        tracktotal INTEGER,
        discnumber INTEGER,
        disctotal INTEGER,
        date TEXT,
        year INTEGER,
        genre TEXT,                     -- all genres joined with '; '
        genres TEXT,                    -- JSON list
        composer TEXT,
        bpm REAL,                       -- from the tags; the analysed tempo is in features
        compilation INTEGER NOT NULL DEFAULT 0,
        mb_recording_id TEXT,
        mb_release_id TEXT,
        mb_artist_id TEXT,
        rg_track_gain REAL,             -- dB
        rg_track_peak REAL,             -- linear, 1.0 = full scale
        rg_album_gain REAL,
        rg_album_peak REAL,
        duration_s REAL,
        bitrate INTEGER,                -- bits per second
        sample_rate INTEGER,
        channels INTEGER,
        codec TEXT,
        cover_hash TEXT REFERENCES covers(hash) ON DELETE SET NULL,
        fingerprint TEXT,               -- hash of audio bytes, ignoring tags
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        missing INTEGER NOT NULL DEFAULT 0  -- its root was unmounted at the last scan
    )""",
    "CREATE INDEX tracks_root ON tracks(root_id)",
    "CREATE INDEX tracks_mb_recording ON tracks(mb_recording_id)",
    "CREATE INDEX tracks_fingerprint ON tracks(fingerprint)",
    "CREATE INDEX tracks_album ON tracks(albumartist, album)",
    "CREATE INDEX tracks_artist ON tracks(artist)",
    # Files that could not be read, with why; kept until the file changes or goes.
    """CREATE TABLE scan_errors (
        path_bytes BLOB PRIMARY KEY,
        path TEXT NOT NULL,
        reason TEXT NOT NULL,
        size INTEGER,
        mtime_ns INTEGER,
        at REAL NOT NULL
    )""",
    # Full-text search: accent- and case-insensitive, prefix queries.
    """CREATE VIRTUAL TABLE tracks_fts USING fts5(
        title, artist, album, albumartist, genre, composer,
        content='tracks', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
        INSERT INTO tracks_fts(rowid, title, artist, album, albumartist, genre, composer)
        VALUES (new.id, new.title, new.artist, new.album, new.albumartist, new.genre,
                new.composer);
    END""",
    """CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album, albumartist, genre,
                               composer)
        VALUES ('delete', old.id, old.title, old.artist, old.album, old.albumartist,
                old.genre, old.composer);
    END""",
    """CREATE TRIGGER tracks_fts_update AFTER UPDATE OF title, artist, album, albumartist,
            genre, composer ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, title, artist, album, albumartist, genre,
                               composer)
        VALUES ('delete', old.id, old.title, old.artist, old.album, old.albumartist,
                old.genre, old.composer);
        INSERT INTO tracks_fts(rowid, title, artist, album, albumartist, genre, composer)
        VALUES (new.id, new.title, new.artist, new.album, new.albumartist, new.genre,
                new.composer);
    END""",
    # Audio features (recommender/features.py): a float32 vector whose layout is named
    # by FEATURES_VERSION, plus the descriptors people understand as columns.
    """CREATE TABLE features (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        vector BLOB NOT NULL,           -- float32, little-endian
        analyzed_at REAL NOT NULL,
        tempo_bpm REAL,
        tempo_confidence REAL,
        key TEXT,                       -- C, C#, ... B
        mode TEXT,                      -- major | minor
        key_confidence REAL,
        loudness_db REAL,
        dynamic_range_db REAL,
        energy REAL,                    -- 0..1
        brightness REAL,                -- 0..1
        danceability REAL,              -- 0..1
        acousticness REAL               -- 0..1
    )""",
    "CREATE INDEX features_version ON features(version)",
    """CREATE TABLE analysis_errors (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    # The listening history: the user's own data, never dropped by a rescan. A play of
    # a track that later disappears keeps its artist/title; imported listens that match
    # no local track are kept with track_id NULL so a later scan can match them.
    """CREATE TABLE plays (
        id INTEGER PRIMARY KEY,
        track_id INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
        started_at REAL NOT NULL,       -- unix seconds, UTC
        ended_at REAL,
        heard_ms INTEGER,               -- wall-clock time actually heard
        fraction REAL,                  -- heard / duration, 0..1
        end_reason TEXT,                -- finished | skipped | stopped | failed | closed | imported
        source TEXT,                    -- library | search | album | playlist | foryou | radio | mix | import
        source_ref TEXT,                -- e.g. the playlist id or the radio seed
        artist TEXT,
        title TEXT,
        album TEXT,
        duration_s REAL,
        mb_recording_id TEXT,
        imported_from TEXT              -- NULL for native plays; scrobbler | listenbrainz | lastfm
    )""",
    "CREATE INDEX plays_track ON plays(track_id, started_at)",
    "CREATE INDEX plays_started ON plays(started_at)",
    # Re-importing a history file adds nothing.
    """CREATE UNIQUE INDEX plays_import_dedup ON plays(started_at, lower(artist), lower(title))
        WHERE imported_from IS NOT NULL""",
    # The play in progress, rewritten every few seconds; turned into a play at start-up
    # when the app was killed.
    """CREATE TABLE current_play (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        track_id INTEGER,
        started_at REAL NOT NULL,
        heard_ms INTEGER NOT NULL,
        duration_s REAL,
        source TEXT,
        source_ref TEXT,
        updated_at REAL NOT NULL
    )""",
    # Per-track counts derived from plays, kept current by triggers so that sorting the
    # song table by play count stays an index lookup.
    """CREATE TABLE track_stats (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        play_count INTEGER NOT NULL DEFAULT 0,
        skip_count INTEGER NOT NULL DEFAULT 0,
        first_played REAL,
        last_played REAL,
        heard_ms INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TRIGGER plays_stats AFTER INSERT ON plays WHEN new.track_id IS NOT NULL BEGIN
        INSERT INTO track_stats(track_id) VALUES (new.track_id)
            ON CONFLICT(track_id) DO NOTHING;
        UPDATE track_stats SET
            play_count = play_count + (new.end_reason IS NOT 'skipped'
                                       AND new.end_reason IS NOT 'failed'),
            skip_count = skip_count + (new.end_reason IS 'skipped'),
            first_played = min(coalesce(first_played, new.started_at), new.started_at),
            last_played = max(coalesce(last_played, new.started_at), new.started_at),
            heard_ms = heard_ms + coalesce(new.heard_ms, 0)
        WHERE track_id = new.track_id;
    END""",
    # Feedback: likes, bans (absolute), and the softer "not this" / "less like this".
    """CREATE TABLE likes (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        at REAL NOT NULL
    )""",
    """CREATE TABLE bans (
        kind TEXT NOT NULL,             -- track | artist
        value TEXT NOT NULL,            -- the track id, or the artist name lower-cased
        at REAL NOT NULL,
        PRIMARY KEY (kind, value)
    )""",
    """CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,             -- not_this | less_like_this
        at REAL NOT NULL
    )""",
    "CREATE INDEX feedback_track ON feedback(track_id)",
    # Playlists: manual (ordered tracks), smart (rules as JSON), generated (mixes, paths).
    """CREATE TABLE playlists (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,             -- manual | smart | generated
        rules TEXT,                     -- JSON, smart playlists
        description TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    """CREATE TABLE playlist_tracks (
        playlist_id INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        PRIMARY KEY (playlist_id, position)
    )""",
    # Suggested tags from the auto-tagger; never written into files unless accepted.
    """CREATE TABLE tag_suggestions (
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        field TEXT NOT NULL,            -- genre | mood
        value TEXT NOT NULL,
        confidence REAL NOT NULL,
        model_version TEXT,
        PRIMARY KEY (track_id, field, value)
    )""",
    # Small persistent state: the play queue, the position in the current track, ...
    """CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL             -- JSON
    )""",
]

# Star ratings (issue 7): a table of their own, so a rescan rewriting track rows never
# touches them; 1..5 stars, no row for unrated.
MIGRATION_2 = [
    """CREATE TABLE ratings (
        track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
        stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
        at REAL NOT NULL
    )""",
]

# The cover file each folder had at the last scan, so that a cover.jpg added, replaced or
# removed in a folder of unchanged tracks is noticed. A library scanned before this
# migration adopts what its folders hold now, without reading every track again.
MIGRATION_3 = [
    """CREATE TABLE folder_covers (
        folder_bytes BLOB PRIMARY KEY,  -- the folder as the file system spells it
        name BLOB NOT NULL,             -- cover.jpg, folder.png...
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL
    )""",
    """INSERT INTO state (key, value) SELECT 'folder_covers_adopt', 'true'
       WHERE EXISTS (SELECT 1 FROM tracks)""",
]


def counts_as_play(row: str) -> str:
    """Return the SQL condition for a plays row (row: its name, "new" in a trigger) to count
    in play_count: not skipped or failed, and, when playback stopped or the app closed,
    at least half of it or 4 minutes heard (the scrobbling rule). Opening the app and
    quitting 4 seconds into a track is in the history, but not a play."""
    return (f"(coalesce({row}.end_reason, '') NOT IN ('skipped', 'failed') AND "
            f"(coalesce({row}.end_reason, '') NOT IN ('stopped', 'closed') "
            f"OR coalesce({row}.fraction, 0) >= 0.5 OR coalesce({row}.heard_ms, 0) >= 240000))")


# Play counts (issue 5): a play stopped or cut off by closing the app counts only when at
# least half of it or 4 minutes were heard. The trigger is rewritten and the counts redone.
# Written out (not from counts_as_play) so that the shipped migration never changes; a
# test checks that the trigger and counts_as_play agree.
MIGRATION_4 = [
    "DROP TRIGGER plays_stats",
    """CREATE TRIGGER plays_stats AFTER INSERT ON plays WHEN new.track_id IS NOT NULL BEGIN
        INSERT INTO track_stats(track_id) VALUES (new.track_id)
            ON CONFLICT(track_id) DO NOTHING;
        UPDATE track_stats SET
            play_count = play_count + (coalesce(new.end_reason, '') NOT IN ('skipped', 'failed')
                AND (coalesce(new.end_reason, '') NOT IN ('stopped', 'closed')
                     OR coalesce(new.fraction, 0) >= 0.5 OR coalesce(new.heard_ms, 0) >= 240000)),
            skip_count = skip_count + (new.end_reason IS 'skipped'),
            first_played = min(coalesce(first_played, new.started_at), new.started_at),
            last_played = max(coalesce(last_played, new.started_at), new.started_at),
            heard_ms = heard_ms + coalesce(new.heard_ms, 0)
        WHERE track_id = new.track_id;
    END""",
    """UPDATE track_stats SET play_count = (SELECT count(*) FROM plays AS p
        WHERE p.track_id = track_stats.track_id
          AND coalesce(p.end_reason, '') NOT IN ('skipped', 'failed')
          AND (coalesce(p.end_reason, '') NOT IN ('stopped', 'closed')
               OR coalesce(p.fraction, 0) >= 0.5 OR coalesce(p.heard_ms, 0) >= 240000))""",
]

MIGRATIONS: list[list[str]] = [MIGRATION_1, MIGRATION_2, MIGRATION_3, MIGRATION_4]

SCHEMA_VERSION = len(MIGRATIONS)
