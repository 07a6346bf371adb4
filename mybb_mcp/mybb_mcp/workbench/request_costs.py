"""What one mybb_server_request cost: its SQL statements with their callers, hooks and plugins (`queries`), the
wall time of each plugin function per hook (`profile`), and what PHP printed (always: what broke an answer that
should be JSON, judged by json_answer.py).

request_costs.php takes them inside the booted request, through MyBB's own `$db` object and hook loop, switched on
by the workbench secret (see request_trace.py); this module reads what it wrote and groups it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .json_answer import Printed

SLOW_MS_DEFAULT = 50.0


@dataclass(frozen=True)
class Query:
    sql: str  # as run (cut at 1,500 characters)
    sql_chars: int  # its whole length
    ms: float
    rows: int | None
    rows_kind: str  # "result" (the result's size), "read" (rows MyBB read: SQLite), "affected"
    caller: str | None  # file:line outside MyBB's database layer
    plugin: str | None  # the plugin whose file is on the stack (None: MyBB core)
    plugin_at: str | None  # that plugin's line on the stack
    hook: str | None  # the hook running


@dataclass
class QueryGroup:
    """Statements identical once folded (literals as ?), from the same caller in the same hook."""

    folded: str
    first: int  # 1-based position of its first run
    caller: str | None
    plugin: str | None
    plugin_at: str | None
    hook: str | None
    count: int = 0
    ms: float = 0.0
    max_ms: float = 0.0
    rows: int | None = None
    rows_kind: str = "result"


@dataclass(frozen=True)
class FunctionCost:
    hook: str
    function: str
    calls: int
    queries: int
    ms: float  # exclusive of the hooks it ran itself
    exited: bool  # the request ended inside it (an exit in a handler)


@dataclass
class RequestCosts:
    queries_asked: bool = False
    profile_asked: bool = False
    wrapped: str | None = None  # MyBB's database class that was extended (None: not extended)
    wall_ms: float = 0.0  # the request, from the router to the end of MyBB's shutdown
    count: int = 0
    ms: float = 0.0
    mybb_count: int | None = None  # $db->query_count at the very end of the request
    queries: list[Query] = field(default_factory=list)
    unlisted: int = 0
    unlisted_ms: float = 0.0
    functions: list[FunctionCost] = field(default_factory=list)

    def groups(self) -> list[QueryGroup]:
        """The statements grouped, in order of first run."""
        groups: dict[tuple[str, str | None, str | None, str | None], QueryGroup] = {}
        for at, query in enumerate(self.queries, 1):
            folded = fold_sql(query.sql)
            key = (folded, query.caller, query.hook, query.plugin_at)
            group = groups.get(key)
            if group is None:
                group = groups[key] = QueryGroup(folded, at, query.caller, query.plugin, query.plugin_at, query.hook,
                                                 rows_kind=query.rows_kind)
            group.count += 1
            group.ms += query.ms
            group.max_ms = max(group.max_ms, query.ms)
            if query.rows is not None:
                group.rows = (group.rows or 0) + query.rows
        return list(groups.values())


_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"", re.S)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")


def fold_sql(sql: str) -> str:
    """A statement with its literals as ?, lists of them as (?…) and white space as one space: statements that
    differ only in their values fold to one."""
    folded = _STRING.sub("?", sql)
    folded = _NUMBER.sub("?", folded)
    folded = _LIST.sub("(?…)", folded)
    return _SPACE.sub(" ", folded).strip()


def output_of(data: dict[str, Any]) -> list[Printed] | None:
    """The writes PHP made to one exchange's answer (the first ones and the last ones), or None: not watched."""
    seen = data.get("output")
    if not isinstance(seen, dict):
        return None
    writes = []
    for item in [*(seen.get("first") or []), *(seen.get("last") or [])]:
        if isinstance(item, list) and len(item) == 6:
            place = f"{item[2]}:{item[3]}" if item[2] and item[3] else str(item[2] or "")
            writes.append(Printed(int(item[0] or 0), int(item[1] or 0), place, str(item[4]), str(item[5])))
    return writes


def merge(costs: RequestCosts | None, data: dict[str, Any]) -> RequestCosts | None:
    """Add one exchange's costs (a redirect chain has several: each counts)."""
    raw = data.get("costs")
    if not isinstance(raw, dict):
        return costs
    found = costs or RequestCosts()
    found.queries_asked = found.queries_asked or bool(raw.get("queries_asked"))
    found.profile_asked = found.profile_asked or bool(raw.get("profile_asked"))
    found.wrapped = str(raw["wrapped"]) if raw.get("wrapped") else found.wrapped
    found.wall_ms += _number(raw.get("wall_ms"))
    found.count += int(_number(raw.get("count")))
    found.ms += _number(raw.get("ms"))
    if isinstance(raw.get("mybb_count"), int):
        found.mybb_count = (found.mybb_count or 0) + raw["mybb_count"]
    for item in raw.get("list") or []:
        if isinstance(item, list) and len(item) == 9:
            found.queries.append(Query(str(item[0]), int(item[1] or 0), _number(item[2]),
                                       None if item[3] is None else int(item[3]), str(item[4]), _text(item[5]),
                                       _text(item[6]), _text(item[7]), _text(item[8])))
    found.unlisted += int(_number(raw.get("unlisted")))
    found.unlisted_ms += _number(raw.get("unlisted_ms"))
    for item in raw.get("functions") or []:
        if isinstance(item, list) and len(item) == 6:
            found.functions.append(FunctionCost(str(item[0]), str(item[1]), int(item[2] or 0), int(item[3] or 0),
                                                _number(item[4]), bool(item[5])))
    return found


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _text(value: object) -> str | None:
    return None if value is None else str(value)
