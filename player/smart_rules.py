"""Smart playlist rules: JSON in, one parameterised SELECT out.

A rule set looks like::

    {"match": "all",                      # or "any"
     "rules": [{"field": "genre", "op": "contains", "value": "jazz"},
               {"field": "last_played", "op": "not_in_last", "value": 365},
               {"match": "any", "rules": [...]}],          # groups nest
     "sort": [{"field": "play_count", "order": "desc"}],   # or "-play_count"
     "limit": 100}

Field names are looked up in a whitelist (FIELDS) and user values only ever travel as
`?` parameters, so a rule can never inject SQL. Text comparisons ignore case and accents
(a Python function registered on the connection, since SQLite's lower() is ASCII-only).
Date rules are relative to the moment the playlist is read, so "in the last 30 days"
stays true to its name: smart playlists update live.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from player.features_store import BPM_SQL, STEADY_TEMPO_SQL

TEXT, NUMBER, DATE, BOOL = "text", "number", "date", "bool"
DAY_S = 86_400.0
MAX_RULES = 200
MAX_DEPTH = 8
MAX_LIMIT = 100_000


@dataclass(frozen=True)
class Field:
    """A field rules may test: its SQL expression and kind."""

    sql: str
    kind: str
    list_sql: str | None = None  # a JSON list column: "is" matches any element
    doc: str = ""


FIELDS: dict[str, Field] = {
    "title": Field("t.title", TEXT),
    "artist": Field("t.artist", TEXT, "t.artists"),
    "album": Field("t.album", TEXT),
    "albumartist": Field("t.albumartist", TEXT),
    "genre": Field("t.genre", TEXT, "t.genres"),
    "composer": Field("t.composer", TEXT),
    "path": Field("t.path", TEXT),
    "codec": Field("t.codec", TEXT),
    "date": Field("t.date", TEXT, doc="the date tag as written"),
    "key": Field("f.key", TEXT, doc="analysed key: C, C#, ... B"),
    "mode": Field("f.mode", TEXT, doc="major | minor"),
    "year": Field("t.year", NUMBER),
    "tracknumber": Field("t.tracknumber", NUMBER),
    "discnumber": Field("t.discnumber", NUMBER),
    "duration": Field("t.duration_s", NUMBER, doc="seconds"),
    "bitrate": Field("t.bitrate / 1000.0", NUMBER, doc="kbit/s"),
    "sample_rate": Field("t.sample_rate", NUMBER),
    # The tag wins: a BPM somebody typed beats the estimate.
    "bpm": Field(BPM_SQL, NUMBER, doc="tag BPM, else analysed tempo"),
    "tempo": Field(STEADY_TEMPO_SQL, NUMBER, doc="analysed tempo (none without a steady beat)"),
    "energy": Field("f.energy", NUMBER, doc="0..1"),
    "brightness": Field("f.brightness", NUMBER, doc="0..1"),
    "danceability": Field("f.danceability", NUMBER, doc="0..1"),
    "acousticness": Field("f.acousticness", NUMBER, doc="0..1"),
    "loudness": Field("f.loudness_db", NUMBER, doc="dB"),
    "play_count": Field("coalesce(s.play_count, 0)", NUMBER),
    "skip_count": Field("coalesce(s.skip_count, 0)", NUMBER),
    "rating": Field("coalesce(r.stars, 0)", NUMBER, doc="0 (unrated) .. 5 stars"),
    "added": Field("t.added_at", DATE),
    "modified": Field("t.updated_at", DATE),
    "last_played": Field("s.last_played", DATE),
    "first_played": Field("s.first_played", DATE),
    "liked_at": Field("l.at", DATE),
    "liked": Field("(l.track_id IS NOT NULL)", BOOL),
    "compilation": Field("(t.compilation = 1)", BOOL),
    "analysed": Field("(f.track_id IS NOT NULL)", BOOL),
}

OPERATORS: dict[str, tuple[str, ...]] = {
    TEXT: ("contains", "not_contains", "is", "is_not", "starts_with", "ends_with",
           "is_empty", "is_set"),
    NUMBER: ("=", "!=", "<", "<=", ">", ">=", "between", "is_empty", "is_set"),
    DATE: ("before", "after", "in_last", "not_in_last", "between", "is_empty", "is_set"),
    BOOL: ("is",),
}
_NUMBER_ALIASES = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

FROM_SQL = """FROM tracks AS t
    LEFT JOIN track_stats AS s ON s.track_id = t.id
    LEFT JOIN features AS f ON f.track_id = t.id
    LEFT JOIN ratings AS r ON r.track_id = t.id
    LEFT JOIN likes AS l ON l.track_id = t.id"""


class RuleError(ValueError):
    """A smart playlist rule is malformed; the message says which part and why."""


def fold(text: object) -> str | None:
    """Return text case- and accent-folded (registered in SQLite as timbre_fold)."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def register_functions(conn: sqlite3.Connection) -> None:
    """Make timbre_fold() available to the compiled queries on this connection."""
    conn.create_function("timbre_fold", 1, fold, deterministic=True)


@dataclass
class _Compiler:
    now: float
    params: list[object]
    count: int = 0

    def group(self, node: Mapping[str, Any], depth: int) -> str:
        if depth > MAX_DEPTH:
            raise RuleError(f"rule groups nest deeper than {MAX_DEPTH}")
        match = node.get("match", "all")
        if match not in ("all", "any"):
            raise RuleError(f'"match" must be "all" or "any", not {match!r}')
        rules = node.get("rules", [])
        if not isinstance(rules, list):
            raise RuleError('"rules" must be a list')
        parts = []
        for rule in rules:
            if not isinstance(rule, Mapping):
                raise RuleError(f"a rule must be an object, not {rule!r}")
            parts.append(self.group(rule, depth + 1) if "rules" in rule else self.rule(rule))
        if not parts:
            return "1"  # an empty "all" is everything; so is an empty "any" (nothing to test)
        return "(" + (" AND " if match == "all" else " OR ").join(parts) + ")"

    def rule(self, rule: Mapping[str, Any]) -> str:
        self.count += 1
        if self.count > MAX_RULES:
            raise RuleError(f"more than {MAX_RULES} rules")
        name = rule.get("field")
        field = FIELDS.get(name) if isinstance(name, str) else None
        if field is None or not isinstance(name, str):
            raise RuleError(f"unknown field {name!r}; known: {', '.join(sorted(FIELDS))}")
        op = rule.get("op")
        if field.kind == NUMBER and isinstance(op, str):
            op = _NUMBER_ALIASES.get(op, op)
        if op not in OPERATORS[field.kind]:
            raise RuleError(
                f"{name}: unknown operator {op!r}; use one of {', '.join(OPERATORS[field.kind])}"
            )
        value = rule.get("value")
        if op == "is_empty":
            return f"({field.sql} IS NULL OR {field.sql} = '')" if field.kind == TEXT \
                else f"({field.sql} IS NULL)"
        if op == "is_set":
            return f"({field.sql} IS NOT NULL AND {field.sql} != '')" if field.kind == TEXT \
                else f"({field.sql} IS NOT NULL)"
        if field.kind == TEXT:
            return self.text(name, field, op, value)
        if field.kind == NUMBER:
            return self.number(name, field.sql, op, value)
        if field.kind == DATE:
            return self.date(name, field.sql, op, value)
        if not isinstance(value, bool):
            raise RuleError(f"{name}: the value must be true or false")
        self.params.append(int(value))
        return f"(coalesce({field.sql}, 0) = ?)"

    def text(self, name: str, field: Field, op: str, value: object) -> str:
        if not isinstance(value, str):
            raise RuleError(f"{name}: {op} needs a text value")
        folded = fold(value)
        col = f"timbre_fold(coalesce({field.sql}, ''))"
        if op in ("is", "is_not"):
            if field.list_sql is not None:
                self.params.extend([folded, folded])
                test = (f"({col} = ? OR EXISTS (SELECT 1 FROM json_each("
                        f"CASE WHEN json_valid({field.list_sql}) THEN {field.list_sql} "
                        f"ELSE '[]' END) WHERE timbre_fold(value) = ?))")
            else:
                self.params.append(folded)
                test = f"({col} = ?)"
            return test if op == "is" else f"(NOT {test})"
        if op in ("contains", "not_contains"):
            self.params.append(folded)
            return f"(instr({col}, ?) {'>' if op == 'contains' else '='} 0)"
        if op == "starts_with":
            self.params.append(folded)
            return f"(instr({col}, ?) = 1)"
        self.params.extend([folded, folded])  # ends_with
        return f"(substr({col}, -length(?)) = ?)"

    def number(self, name: str, sql: str, op: str, value: object) -> str:
        if op == "between":
            low, high = self._pair(name, value, _number)
            self.params.extend([low, high])
            return f"({sql} BETWEEN ? AND ?)"
        self.params.append(_number(name, value))
        return f"({sql} {op} ?)"

    def date(self, name: str, sql: str, op: str, value: object) -> str:
        if op in ("in_last", "not_in_last"):
            days = _number(name, value)
            if days < 0:
                raise RuleError(f"{name}: the number of days must not be negative")
            self.params.append(self.now - days * DAY_S)
            # Never played is "not played in the last N days".
            return f"({sql} >= ?)" if op == "in_last" else f"({sql} IS NULL OR {sql} < ?)"
        if op == "between":
            low, high = self._pair(name, value, _timestamp)
            self.params.extend([low, high])
            return f"({sql} BETWEEN ? AND ?)"
        self.params.append(_timestamp(name, value))
        return f"({sql} {'<' if op == 'before' else '>'} ?)"

    @staticmethod
    def _pair(name: str, value: object, convert: Any) -> tuple[float, float]:
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            raise RuleError(f"{name}: between needs a list of two values")
        low, high = convert(name, value[0]), convert(name, value[1])
        return (low, high) if low <= high else (high, low)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleError(f"{name}: {value!r} is not a number")
    return float(value)


def _timestamp(name: str, value: object) -> float:
    """Return unix seconds from a number or an ISO date ("2024-05-01", local time)."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError as exc:
            raise RuleError(f"{name}: {value!r} is not a date (use YYYY-MM-DD)") from exc
    return _number(name, value)


def _order_by(sort: object) -> str:
    items: list[object] = sort if isinstance(sort, list) else [sort]
    terms = []
    for item in items:
        name: object
        order: object
        if isinstance(item, str):
            name, order = (item[1:], "desc") if item.startswith("-") else (item, "asc")
        elif isinstance(item, Mapping):
            name, order = item.get("field"), item.get("order", "asc")
        else:
            raise RuleError(f"sort must be a field name or {{field, order}}, not {item!r}")
        if name == "random":
            terms.append("random()")
            continue
        field = FIELDS.get(name) if isinstance(name, str) else None
        if field is None:
            raise RuleError(f"cannot sort by unknown field {name!r}")
        if order not in ("asc", "desc") or not isinstance(order, str):
            raise RuleError(f'sort order must be "asc" or "desc", not {order!r}')
        expr = f"timbre_fold({field.sql})" if field.kind == TEXT else field.sql
        # Unknown values go last either way.
        terms.append(f"({expr} IS NULL), {expr} {order.upper()}")
    return ", ".join(terms + ["t.id"])


def compile_rules(rules: Mapping[str, Any], now: float) -> tuple[str, list[object]]:
    """Return (sql, params) selecting the track ids a rule set picks, in order.

    Raises RuleError with a readable message for anything malformed.
    """
    if not isinstance(rules, Mapping):
        raise RuleError("smart playlist rules must be a JSON object")
    params: list[object] = []
    where = _Compiler(now, params).group(rules, 0)
    sql = f"SELECT t.id {FROM_SQL} WHERE t.missing = 0 AND {where}"
    sql += f" ORDER BY {_order_by(rules.get('sort', []))}"
    limit = rules.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT:
            raise RuleError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params
