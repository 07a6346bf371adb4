"""`service.logs`: log queries, cursors, waiting for new entries, the error digest (the data; the faces
render it with `mybb_mcp.answers`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..forum import release, request_roles
from ..forum import sessions as sessions_module
from ..logs import compile_time, cursors, digest, mybb_error_log
from ..logs.match import RequestMatch
from ..logs.options import LogQueryOptions
from ..logs.query import run_query
from ..logs.zone import read_log_zone

if TYPE_CHECKING:
    from ..logs.query import LogQueryResult
    from .observe import ForumSite


WAIT_POLL_SECONDS = 0.1  # how often a waiting log query looks for new entries


class LogService:
    """The forum's logs: the server log (rotated generations too) and MyBB's own error log."""

    def __init__(self, site: ForumSite) -> None:
        self.site = site

    def search_logs(self, options: LogQueryOptions) -> LogQueryResult:
        """Run a log query and return the data (`answers.logs.render_log_query` renders it)."""
        options = options.validated()
        site, config = self.site, self.site.config
        running = site.observe([])
        log_file = config.log_file
        sources = (mybb_error_log.error_log_sources(config.mybb_root, php_settings=config.php_settings)
                   if options.include_mybb else [])
        zone = read_log_zone(log_file)
        now = datetime.fromtimestamp(site.clock(), timezone.utc)
        site.know_release()
        result = run_query(log_file, options, now=now, extra_sources=sources, zone=zone, forum_root=config.mybb_root)
        result.origin_basis = release.basis_of(str(config.mybb_root))
        deleted = site.deleted_log(running)
        if deleted and not result.log_exists:
            result.problem = deleted
        return result

    def log_cursor(self) -> str:
        """A cursor at the end of the logs now (see logs/cursors.py)."""
        return cursors.take_cursor(self.site.config.log_file, self.site.mybb_error_files()).encode()

    def logs_since(self, cursor: str | None, options: LogQueryOptions, *, wait_seconds: float = 0.0,
                   on_wait: Callable[[float, float], None] | None = None) -> cursors.NewEntries:
        """Entries after `cursor` (None: from now) that match the filters of `options`, oldest first.

        With `wait_seconds`, waits up to that long for the first one, calling `on_wait(waited, total)`
        about once a second (the MCP face turns that into progress notifications)."""
        options = options.validated()
        site, config = self.site, self.site.config
        files = site.mybb_error_files() if options.include_mybb else []
        mark = cursors.decode_cursor(cursor) if cursor else cursors.take_cursor(config.log_file, files)
        site.know_release()
        wanted = cursors.EntryFilter(
            errors_only=options.errors_only, exclude_static=options.exclude_static, keyword=options.filter_keyword,
            include_connections=options.include_connections, path=options.path,
            include_core_noise=options.include_core_noise, root=config.mybb_root)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        started, ticked = time.monotonic(), 0
        while True:
            site.observe([])  # rotates a log grown too big while we wait, as queries do
            found = cursors.read_since(mark, config.log_file, config.log_backups, files, wanted=wanted,
                                       limit=options.limit)
            if found.entries or time.monotonic() >= deadline:
                return found
            mark = found.cursor
            waited = time.monotonic() - started
            if on_wait is not None and int(waited) > ticked:
                ticked = int(waited)
                on_wait(waited, wait_seconds)
            time.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def error_digest(self, cursor: str | None = None, since_minutes: int | None = None,
                     include_mybb: bool = True, keyword: str | None = None,
                     path: str | None = None) -> digest.Digest:
        """Errors grouped by fingerprint; since a cursor: which are new, still firing or resolved.
        `keyword` / `path`: only errors holding the keyword, or whose request does (log_match)."""
        site, config = self.site, self.site.config
        mark = cursors.decode_cursor(cursor) if cursor else None
        LogQueryOptions(since_minutes=since_minutes, filter_keyword=keyword, path=path).validated()
        since = (datetime.fromtimestamp(site.clock(), timezone.utc) - timedelta(minutes=since_minutes)
                 if since_minutes else None)
        site.observe([])
        site.know_release()
        files = site.mybb_error_files() if include_mybb else []
        root, sessions = config.mybb_root, sessions_module.sessions_dir(config)
        role_of = request_roles.RoleOf(request_roles.read(sessions))
        match = RequestMatch.of(keyword, path)

        def unchanged_since(group: digest.ErrorGroup) -> bool:
            return compile_time.unchanged_since(group.example.message, group.fingerprint.where, group.last_seen, root)

        found = digest.digest(config.log_file, config.log_backups, files, cursor=mark, since=since, root=root,
                              role_of=role_of, match=match, unchanged_since=unchanged_since)
        with contextlib.suppress(OSError):  # what is kept is a help, never the answer's condition
            compile_time.remember(sessions, compile_time.from_groups(found.groups + found.before), root)
            if found.since_cursor and match is None:
                present = {g.key for g in found.groups + found.before}
                found.before += compile_time.standing_groups(sessions, root, present)
        return found
