"""Reasons in words, built only from evidence the engine actually used."""

from __future__ import annotations

import time

from player.models import Track
from recommender.picks import Snapshot
from recommender.similarity import join_words


def describe(track: Track | None) -> str:
    """Return '"Title" by Artist' (plain text: tags are untrusted, so no markup)."""
    if track is None:
        return "a track no longer in the library"
    title = " ".join((track.title or "").split()) or "untitled"
    artist = " ".join((track.artist or "").split())
    return f"\u201c{title}\u201d by {artist}" if artist else f"\u201c{title}\u201d"


def times(n: int) -> str:
    """Return "once", "twice", "12 times"."""
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


# What two tracks share in their tags is the same, not similar: "the same artist".
_TAG_ASPECTS = ("artist", "genre", "composer", "era")


def aspects_in_words(aspects: list[str]) -> str:
    """Return "similar timbre and tempo", "the same artist and genre (jazz)", or
    "similar timbre and the same genre (jazz)" for shared_aspects' words."""
    heard = [a for a in aspects if not a.startswith(_TAG_ASPECTS)]
    tagged = [a for a in aspects if a.startswith(_TAG_ASPECTS)]
    parts = ([f"similar {join_words(heard)}"] if heard else []) + (
        [f"the same {join_words(tagged)}"] if tagged else [])
    return " and ".join(parts)


def similar_reason(snap: Snapshot, row: int, seed: int, suffix: str = "",
                   groups: dict[str, float] | None = None) -> str:
    """Return "similar timbre and tempo to X<suffix>" (or "the same artist as X<suffix>")
    from what the two really share.

    groups: the pair's group similarities when already computed (many at once).
    """
    aspects = snap.sim.shared_aspects(row, seed, groups=groups)
    target = describe(snap.track(seed))
    if not aspects:
        return f"sounds close to {target}{suffix}"
    words = aspects_in_words(aspects)
    return f"{words} {'as' if 'the same' in words else 'to'} {target}{suffix}"


def played_suffix(count: int) -> str:
    """Return ", which you played 12 times" (nothing for tracks never played)."""
    return f", which you played {times(count)}" if count > 0 else ""


def when(at: float) -> str:
    """Return a month and year for a unix time ("March 2026")."""
    return time.strftime("%B %Y", time.localtime(at))


def daypart(at: float) -> str:
    """Return the part of the (local) day a unix time falls in."""
    hour = time.localtime(at).tm_hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "late-night"
