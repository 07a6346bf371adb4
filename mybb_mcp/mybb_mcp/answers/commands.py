"""The wording of next steps, one table per face: an MCP answer names tool calls, the CLI's names
commands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# --- server results and status -----------------------------------------------------------------------

@dataclass(frozen=True)
class Commands:
    """How a reader invokes each action on the face they are using."""

    start: str
    stop: str
    stop_force: str
    restart: str
    status: str
    logs_errors: str
    start_other_port: str
    start_port: str  # start on the port {}
    restart_port: str  # restart on the port {}
    list_all: str  # every server of this user's
    logs_since: str  # a log query given "this cursor"
    digest_since: str
    request: str
    error_logging_on: str
    error_logging_off: str
    # How a log-query option is said on this face (relaxing filters, paging).
    offset: str
    all_kinds: str
    include_static: str
    wider_since: str
    # A snapshot action, with and without a name ("{action}", "{name}" filled in by `snapshot()`).
    snapshot_action: str = ""
    snapshot_named: str = ""
    request_as: str = "{path} as {role}"  # the request of a page as a role ("{path}", "{role}" filled in)
    max_chars: str = "`max_chars`"
    full_traces: str = "`full_traces: true`"
    core_noise: str = "`core_noise: true`"
    all_origins: str = "`user_code_only: false`"
    # The catalogue's generic next steps (failures.py), as this face says them.
    fix_again: str = "Fix it and call again."
    fix_arguments: str = "Call it again with the arguments corrected."
    fix_setting: str = "Fix the setting and call again."
    sql: str = "`mybb_forum_sql`"
    mcp: bool = True  # the face: an MCP answer (tool calls) or the CLI's (commands)

    def words(self, **facts: str) -> dict[str, str]:
        """This face's wordings by field name, plus a result's facts: what a catalogue next step is filled with."""
        words = {name: value for name, value in asdict(self).items() if isinstance(value, str)}
        words["snapshot_list"] = self.snapshot("list")
        return {**words, **facts}

    def snapshot(self, action: str, name: str | None = None) -> str:
        if name is None:
            return self.snapshot_action.format(action=action)
        return self.snapshot_named.format(action=action, name=name)


MCP_COMMANDS = Commands(
    start="`mybb_server_start`",
    stop="`mybb_server_stop`",
    stop_force="`mybb_server_stop` with `force: true`",
    restart="`mybb_server_restart`",
    status="`mybb_server_status`",
    logs_errors="`mybb_server_logs` with `errors_only: true`",
    start_other_port="`mybb_server_start` with another `port`",
    start_port="`mybb_server_start` with `port: {}`",
    restart_port="`mybb_server_restart` with `port: {}`",
    list_all="`mybb_server_status` with `all: true`",
    logs_since="`mybb_server_logs` with this `cursor`",
    digest_since="`mybb_server_logs` with `digest: true` and this `cursor`",
    request="`mybb_server_request`",
    error_logging_on="`mybb_server_start` with `mybb_error_logging: \"on\"`",
    error_logging_off="`mybb_server_start` with `mybb_error_logging: \"off\"`",
    offset="offset={}",
    all_kinds="errors_only=false",
    include_static="exclude_static=false",
    wider_since="a larger since_minutes than {}",
    snapshot_action='`mybb_forum_snapshot` with `action: "{action}"`',
    snapshot_named='`mybb_forum_snapshot` with `action: "{action}", name: "{name}"`',
    request_as='`mybb_server_request` with `path: "{path}", as: "{role}"`',
)
CLI_COMMANDS = Commands(
    start="`mybb-server start`",
    stop="`mybb-server stop`",
    stop_force="`mybb-server stop --force`",
    restart="`mybb-server restart`",
    status="`mybb-server status`",
    logs_errors="`mybb-server logs --errors`",
    start_other_port="`mybb-server start --port N`",
    start_port="`mybb-server start --port {}`",
    restart_port="`mybb-server restart --port {}`",
    list_all="`mybb-server list`",
    logs_since="`mybb-server logs --cursor CURSOR`",
    digest_since="`mybb-server logs --digest --cursor CURSOR`",
    request="`mybb-server request`",
    error_logging_on="`mybb-server errorlog on`",
    error_logging_off="`mybb-server errorlog off`",
    offset="--offset {}",
    all_kinds="no --errors",
    include_static="--include-static",
    wider_since="a larger --since than {}",
    snapshot_action="`mybb-server snapshot {action}`",
    snapshot_named="`mybb-server snapshot {action} {name}`",
    request_as="`mybb-server request '{path}' --as '{role}'`",
    max_chars="`--max-chars N`",
    full_traces="`--full-traces`",
    core_noise="`--core-noise`",
    all_origins="no `--user-code`",
    fix_again="Fix it and run the command again.",
    fix_arguments="Fix it and run the command again.",
    fix_setting="Fix it and run the command again.",
    sql="`mybb-server sql`",
    mcp=False,
)
