"""`service.forum`: the forum itself: page requests as a role (through the workbench's trace, costs and
browser when asked), MyBB's error logging, snapshots, the doctor and MyBB's own reference.
"""

from __future__ import annotations

import contextlib
import http.client
from dataclasses import replace
from typing import TYPE_CHECKING

from .. import layout, php_builds
from ..failures import Failure
from ..forum import database, dev_mode, doctor, error_log, reference, request_roles, requests, sessions
from ..forum import files as files_module
from ..forum import snapshot as snapshots
from ..logs import compile_time, cursors
from ..logs import exchanges as exchanges_module
from ..results import PageResult
from ..workbench import browser, browser_pool, left_out, request_trace
from ..workbench.chromium import BrowserProblem, find_chromium
from ..workbench.json_answer import JsonVerdict, expected_json, judge_json
from .validation import server_url, validate_flag

if TYPE_CHECKING:
    from ..config import Config
    from ..forum.requests import PageRequest
    from .observe import ForumSite, RunningServer


class ForumService:
    """What the service does to the forum (through the `forum` and `workbench` packages)."""

    def __init__(self, site: ForumSite) -> None:
        self.site = site
        # The MCP server's long-lived service keeps one Chromium per forum warm (workbench/browser_pool.py);
        # the CLI, one process per call, starts it for each call.
        self.keep_browser_warm = False

    @property
    def config(self) -> Config:
        return self.site.config

    def check_mariadb(self) -> bool:
        """Whether the forum's MySQL/MariaDB database answers (no longer a process-name check)."""
        return database.check_mariadb(self.config.mybb_root, php_settings=self.config.php_settings)

    def request_page(self, request: PageRequest) -> PageResult:
        """Load a forum page as guest, a member or the admin: what MyBB showed, and the errors of exactly
        this request (its own exchanges, by client port) from the server log and MyBB's error log."""
        request = request.validated()
        chromium = None
        if request.browser:
            try:
                chromium = find_chromium()
            except BrowserProblem as exc:  # before anything is done: nothing changes
                return PageResult(request, None, failure=Failure.BROWSER_PROBLEM, problem=exc.message, hint=exc.hint)
        running = self.site.observe([])
        files = self.site.mybb_error_files()
        log_file = self.config.log_file  # resolved once: the forum's layout is looked up on each access
        before = cursors.take_cursor(log_file, files)
        result = PageResult(request, None, log_file=log_file)
        if running is None:
            result.fail(Failure.NOT_RUNNING, f"the server is not running for {self.config.mybb_root}",
                        "Start it with mybb_server_start (or `mybb-server start`), then request the page.")
            result.cursor = before.encode()
            return result
        cfg = files_module.read_config_php(self.config.mybb_root)
        self.site.know_release()
        client = requests.ForumClient(
            str(running.state.get("host", self.config.host)), int(running.state.get("port", self.config.port)),
            request.role, sessions.SessionStore(sessions.sessions_dir(self.config)),
            admin_dir=cfg.admin_dir if cfg else "admin",
            credentials=lambda: sessions.credentials_for(request.role, self.config),
            secret_pin=cfg.secret_pin if cfg else "",
        )
        asked = request.trace or request.plugins is not None or request.queries or request.profile
        # In the browser the workbench rides on the page's own document request only, when asked for.
        workbench = None if chromium and not asked else request_trace.begin(
            self.config, request.trace, request.plugins, queries=request.queries, profile=request.profile)
        if workbench is None and asked:
            planted = request_trace.refusal(self.config)
            result.fail(Failure.TRACE_UNAVAILABLE,
                        "the running server cannot trace a request, list its queries, profile it or switch "
                        "plugins off for one: "
                        + (planted.rstrip(".") if planted else "it was started without mybb-mcp's router or "
                           "by an older version") + "; the page was not requested",
                        "Remove that folder, restart the server (mybb_server_restart or `mybb-server restart`), "
                        "then ask again." if planted else
                        "Restart it with mybb_server_restart (or `mybb-server restart`), then ask again.")
            result.cursor = before.encode()
            return result
        if workbench is not None and chromium is None:
            client.extra_headers = workbench.headers
        started = self.site.clock()
        side: list[str] = []
        try:
            if chromium is not None:
                launch = browser.Launch(chromium, self._warm_key(running, client),
                                        workbench.headers if workbench is not None else {})
                response, result.browser = browser.check_page(self.config, launch, client, request, before)
            else:
                response = requests.load_page(client, request)
        except sessions.LoginProblem as exc:
            result.fail(Failure.LOGIN_REFUSED, exc.message, exc.hint)
            if exc.broke:  # the login request's own errors are the answer
                logins = [exchanges_module.Exchange(h.method, h.target, h.status, h.client_port)
                          for h in client.login_hops]
                result.errors, result.errors_known, result.errors_note = exchanges_module.errors_of_exchanges(
                    before, logins, log_file, self.config.log_backups, files, root=self.config.mybb_root,
                    started=started)
        except BrowserProblem as exc:
            result.fail(Failure.BROWSER_PROBLEM, exc.message, exc.hint)
        except (OSError, http.client.HTTPException) as exc:
            result.fail(Failure.FORUM_NOT_ANSWERING, f"the forum did not answer at {client.base}: {exc}",
                        "Check the server with mybb_server_status (or `mybb-server status`).")
        else:
            result.response = response
            exchanges = [exchanges_module.Exchange(h.method, h.target, h.status, h.client_port) for h in response.hops]
            result.errors, result.errors_known, result.errors_note = exchanges_module.errors_of_exchanges(
                before, exchanges, log_file, self.config.log_backups, files,
                root=self.config.mybb_root, started=started)
            requests.inspect_page(result, response)
            if result.browser is not None and request.selector:
                result.selector_count = result.browser.selector_count  # the live DOM, after scripts ran
            with contextlib.suppress(OSError):
                compile_time.remember(sessions.sessions_dir(self.config), compile_time.from_groups(result.errors),
                                      self.config.mybb_root)
            if workbench is not None:
                result.workbench = request_trace.collect(self.config, workbench, [h.client_port for h in response.hops],
                                                         request.trace, request.plugins)
                request_trace.name_template_errors(result.workbench, result.errors, self.config.mybb_root)
                with contextlib.suppress(OSError):  # what is kept is a help, never the answer's condition
                    result.errors += compile_time.for_included(
                        sessions.sessions_dir(self.config), self.config.mybb_root, result.workbench.included,
                        {g.key for g in result.errors})
                side = left_out.mark_left_out(result.errors, self.config.mybb_root, left_out.left_out_plugins(
                    self.config.mybb_root, request.plugins, result.workbench.skipped))
            result.json_verdict = _judge_json(response, result.workbench, str(self.config.mybb_root))
            if not any(group.count for group in result.errors):  # remembered compile-time ones aside
                result.visibility_note = self._hidden_kinds()
        hops = [h.client_port for h in result.response.hops] if result.response else []
        hops += [r.client_port for r in result.browser.requests if r.client_port] if result.browser else []
        plain = request.plugins is None  # a load with plugins left out proves nothing of the page as it is
        with contextlib.suppress(OSError):  # unrecorded, its page only reads "not re-checked" in the digest
            where = sessions.sessions_dir(self.config)
            request_roles.record(where, client.login_ports, request.role, rechecks=plain)
            debug_apart = result.response is not None and result.response.debug_ports is not None
            # A debug call re-checks nothing, also when its page was loaded plainly for a selector.
            request_roles.record(where, hops, request.role, rechecks=plain and not request.debug,
                                 side=side, loaded=request_trace.loaded_plugins(result.workbench))
            if debug_apart and result.response is not None:
                request_roles.record(where, result.response.debug_ports or [], request.role, rechecks=False)
        if workbench is not None and result.workbench is None:  # no page: its exchanges' traces are not read
            request_trace.collect(self.config, workbench, [], request.trace, request.plugins)
        try:
            client.save()
        except OSError as exc:  # the answer stands; the next request logs in again
            if result.response is not None:
                result.response.notes.append(f"the session could not be kept ({exc.strerror or exc}); the next "
                                             "request logs in again")
        result.cursor = cursors.take_cursor(log_file, files).encode()
        return result

    def _warm_key(self, running: RunningServer, client: requests.ForumClient) -> browser_pool.ServerKey | None:
        """The server a warm browser is kept for (MCP only), None for a browser started for the call."""
        if not self.keep_browser_warm:
            return None
        return browser_pool.ServerKey(str(self.config.mybb_root), browser.browser_address(client),
                                      running.identity.pid, running.identity.create_time)

    def close_warm_browser(self) -> None:
        """The forum's server is stopped through the tool: its warm browser goes with it."""
        browser_pool.close_forum(str(self.config.mybb_root))

    def _hidden_kinds(self) -> str | None:
        """Why "no errors" may not be the whole truth: MyBB's error logging is off."""
        state = error_log.error_logging_state(files_module.read_settings_php(self.config.mybb_root))
        return state.warning

    # ------------------------------------------------------------------ MyBB settings

    def set_mybb_error_logging(self, enabled: bool) -> dev_mode.ErrorLoggingChange:
        """Turn MyBB's own error logging on for development (into the server log) or back off.

        Updates MyBB's settings table and rebuilds inc/settings.php as MyBB does; "off" restores the
        values "on" replaced. No restart needed: MyBB reads its settings on every request.
        """
        enabled = validate_flag(enabled, "enabled")
        self.site.ensure_repo_root()
        files = layout.claim(self.config.mybb_root)  # it writes beside the forum, as start does
        return dev_mode.set_error_logging(self.config.mybb_root, enabled, self.config.repo_root,
                                          memory_name=files.errorlog_memory.name)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self, action: str, name: str | None = None) -> snapshots.SnapshotResult:
        """Save, restore, list, delete or diff a snapshot of the forum's database and the files MyBB writes.

        Works while the server runs. Restore first keeps what it replaces as an automatic snapshot.
        Raises InvalidArgument for an unknown action or a bad name (nothing is touched).
        """
        files = self.config.files  # the folder's first forum keeps the plain name, as for state and logs
        folder = snapshots.SNAPSHOTS_DIR if files.plain else f"{snapshots.SNAPSHOTS_DIR}.{files.key}"
        result = snapshots.Snapshots(self.config.mybb_root, self.config.repo_root / folder,
                                     max_bytes=self.config.snapshot_max_mb * 2**20).run(action, name)
        if result.failure is not None:
            result.failure = Failure(result.failure)
        return result

    # ------------------------------------------------------------------ doctor

    def doctor(self) -> doctor.DoctorReport:
        """The forum's named health checks (forum/doctor.py), against the address it is served at."""
        running = self.site.observe([])
        state = running.state if running is not None else {}
        url = server_url(str(state.get("host", self.config.host)), int(state.get("port", self.config.port)))
        notes = []
        if dev_mode.switched_on_by_tool(self.config.repo_root, self.config.mybb_root,
                                        self.config.files.errorlog_memory.name):
            notes.append("MyBB's error logging is on (errorlogmedium=log), switched on by this tool")
        try:
            php = self.site.php()
        except php_builds.PhpBuildError as exc:  # the checks that run PHP say it cannot; this says why
            found = doctor.diagnose(self.config.mybb_root, url, php=self.config.php,
                                    php_settings=self.config.php_settings, dev_notes=notes)
            build = doctor.Finding("php-build", doctor.PROBLEM, exc.message, exc.hint)
            return replace(found, findings=(build, *found.findings))
        return doctor.diagnose(self.config.mybb_root, url, php=php, php_settings=self.config.php_settings,
                               dev_notes=notes)

    # ------------------------------------------------------------------ reference

    def reference(self, kind: str | None = None, name: str | None = None,
                  search: str | None = None) -> reference.ReferenceAnswer:
        """MyBB's own reference from this forum's files and database (forum/reference.py). Raises
        InvalidArgument for an unknown kind, a name that cannot be one, or `search` with a name."""
        reference.check_question(self.config.mybb_root, kind, name, search)
        return reference.reference(self.config.mybb_root, kind, name, search, php=self.site.php(),
                                   php_settings=self.config.php_settings)


def _judge_json(response: requests.PageResponse, workbench: request_trace.RequestTrace | None,
                root: str) -> JsonVerdict | None:
    """Whether the answer is JSON when it should be (xmlhttp.php, `ajax`, a JSON Content-Type), with what PHP
    printed into it when the workbench watched (json_answer.py)."""
    last = response.hops[-1]
    form = response.request.form if last.method == "POST" else ()
    expected = expected_json(last.target, response.content_type, form)
    printed = workbench.printed.get(last.client_port) if workbench is not None else None
    return judge_json(response.body, response.content_type, printed, expected, root)
