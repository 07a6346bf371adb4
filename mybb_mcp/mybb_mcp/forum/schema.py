"""The shape of the forum's tables, for `snapshot diff`: columns with their types, and indexes.

Plugins add columns and indexes to MyBB's core tables (`ALTER TABLE mybb_users ADD ...`) as often as
tables of their own; a diff of row counts alone misses them. Read from the database's own catalog:
SQLite's `PRAGMA table_info` / `index_list` / `index_info`, MySQL's `information_schema`.

A schema is `{table: {"columns": {name: description}, "indexes": {name: description}}}`: plain JSON,
kept in the snapshot's catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Schema = dict[str, dict[str, dict[str, str]]]


class DbCursor(Protocol):
    """A DB-API cursor, sqlite3's or PyMySQL's, as the catalogs read it."""

    def execute(self, query: str, /) -> object: ...

    # Any: a row holds the driver's values (str, int, bytes, None ...), each read through _text/_digest.
    def fetchall(self) -> Sequence[Any]: ...

    @property
    def description(self) -> Sequence[Sequence[object]] | None: ...


def cell_text(value: object) -> str:
    """A database cell as text: bytes (PyMySQL's binary columns) decoded, NULL as ""."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def sqlite_schema(cursor: DbCursor, tables: list[str], quote_ident: Callable[[str], str]) -> Schema:
    schema: Schema = {}
    for table in tables:
        columns: dict[str, str] = {}
        cursor.execute(f"PRAGMA table_info({quote_ident(table)})")
        for _cid, name, kind, notnull, default, pk in cursor.fetchall():
            columns[cell_text(name)] = _column(cell_text(kind) or "(no type)", not notnull, default,
                                           "PRIMARY KEY" if pk else "")
        indexes: dict[str, str] = {}
        cursor.execute(f"PRAGMA index_list({quote_ident(table)})")
        for row in cursor.fetchall():
            name, unique = cell_text(row[1]), bool(row[2])
            cursor.execute(f"PRAGMA index_info({quote_ident(name)})")
            names = [cell_text(info[2]) for info in sorted(cursor.fetchall())]
            indexes[name] = _index(names, unique)
        schema[table] = {"columns": columns, "indexes": indexes}
    return schema


def mysql_schema(cursor: DbCursor, tables: list[str]) -> Schema:
    wanted = set(tables)
    schema: Schema = {t: {"columns": {}, "indexes": {}} for t in tables}
    cursor.execute("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
                   "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                   "ORDER BY TABLE_NAME, ORDINAL_POSITION")
    for table, name, kind, nullable, default, extra in cursor.fetchall():
        table = cell_text(table)
        if table in wanted:
            schema[table]["columns"][cell_text(name)] = _column(cell_text(kind), cell_text(nullable) == "YES", default,
                                                            cell_text(extra))
    cursor.execute("SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
                   "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX")
    parts: dict[tuple[str, str], tuple[bool, list[str]]] = {}
    for table, index, non_unique, column in cursor.fetchall():
        key = (cell_text(table), cell_text(index))
        if key[0] in wanted:
            parts.setdefault(key, (not int(non_unique), []))[1].append(cell_text(column))
    for (table, index), (unique, names) in parts.items():
        schema[table]["indexes"][index] = _index(names, unique)
    return schema


def _column(kind: str, nullable: bool, default: Any, extra: str) -> str:
    words = [kind]
    if not nullable:
        words.append("NOT NULL")
    if default is not None:
        words.append(f"DEFAULT {cell_text(default)}")
    if extra:
        words.append(extra)
    return " ".join(words)


def _index(columns: list[str], unique: bool) -> str:
    return ("UNIQUE " if unique else "") + "(" + ", ".join(columns) + ")"


@dataclass(frozen=True)
class SchemaChange:
    """A column or index added (before None), removed (after None) or changed in a table both have."""

    table: str
    what: str  # "column" | "index"
    name: str
    before: str | None
    after: str | None

    @property
    def kind(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


def compare_schemas(then: Mapping[str, Any], now: Mapping[str, Any]) -> list[SchemaChange]:
    """Columns and indexes that differ in the tables both schemas hold (tables added or dropped are the
    row-count section's)."""
    changes: list[SchemaChange] = []
    for table in sorted(set(then) & set(now)):
        for what, key in (("column", "columns"), ("index", "indexes")):
            old, new = then[table].get(key, {}), now[table].get(key, {})
            for name in sorted(set(old) | set(new)):
                if old.get(name) != new.get(name):
                    changes.append(SchemaChange(table, what, name, old.get(name), new.get(name)))
    return changes
