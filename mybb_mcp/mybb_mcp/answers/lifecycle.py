"""Start, stop and restart results -> markdown: what happened, and for every failure the reason and
the next step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..failures import Failure
from ..untrusted import code_block, code_span
from .commands import MCP_COMMANDS
from .common import bullets, format_duration, md_table, other_port_step
from .status import died_section, render_error_logging, render_visibility

if TYPE_CHECKING:
    from ..results import ServerResult
    from .commands import Commands


def _next_step(result: ServerResult, commands: Commands) -> str:
    """The catalogue's next step, or a better one where this result's facts (who holds the port, whether
    PHP said anything) make it so."""
    failure = result.failure
    if failure is None:
        return ""
    owner = result.port_owner
    if failure in (Failure.PORT_IN_USE, Failure.NOT_OURS):
        if owner is not None and owner.forum_root is not None:
            first = (f"Leave that forum's server alone, or stop it from that forum "
                     f"({code_span('MYBB_ROOT=' + owner.forum_root)}); "
                     f"{commands.list_all} shows every server this tool runs.")
        else:
            first = failure.next_step(commands.words())
        return f"{first} {other_port_step(result.free_port, commands)}"
    if failure is Failure.NOT_RUNNING and owner is not None:
        held = (f"Port {result.port} serves another forum of this tool's; leave it, or stop it from that forum "
                f"({code_span('MYBB_ROOT=' + owner.forum_root)}). " if owner.forum_root is not None else "")
        return f"{held}To run this forum beside it: {other_port_step(result.free_port, commands)}"
    if failure is Failure.PHP_EXITED and not result.reason:
        return ("PHP printed nothing: check that MYBB_PHP is the PHP CLI (`php -v`) and that "
                f"{commands.logs_errors} shows nothing older, then start again.")
    return failure.next_step(commands.words())


def render_result(result: ServerResult, commands: Commands = MCP_COMMANDS) -> str:
    """Markdown for a start, stop or restart outcome."""
    if result.success:
        return _render_success(result, commands)
    failure = result.failure
    assert failure is not None
    if failure is Failure.ALREADY_RUNNING:
        out = ["# Server Already Running\n", result.message + "\n", md_table([
            ("Port", result.port), ("PID", result.pid), ("Uptime", format_duration(result.uptime_seconds)),
            ("URL", result.url), ("Log File", result.log_file),
        ])]
        if result.requested_port is not None:
            move = commands.restart_port.format(result.requested_port)
            out.append(f"\n**The port was not changed:** the server still listens on port {result.port}, not "
                       f"{result.requested_port}. To move it, use {move}.")
    else:
        out = [f"# Error: {_failure_heading(result)}\n", result.message]
        if result.reason:
            out.append("\nPHP said:\n" + "\n".join(code_block(result.reason.split("\n"))))
        owner = result.port_owner
        if owner and owner.forum_root is not None:
            out.append(f"\nPort {result.port} is held by {owner.describe()}.")
        elif owner:
            out.append(f"\nPort {result.port} is held by {owner.describe()}, which this tool did not start; "
                       "it was not touched.")
        if result.died:
            out.append(died_section(result.died, commands))
    out.append(bullets("Warnings", result.warnings))
    out.append(bullets("Notes", result.notes))
    step = _next_step(result, commands)
    if step:
        out.append(f"\n**Next:** {step}")
    return "\n".join(part for part in out if part).strip() + "\n"


def _failure_heading(result: ServerResult) -> str:
    """The heading, chosen once the body's facts are known: a port held by a server of ours (another
    forum's) is never headed as a stranger's."""
    failure = result.failure
    assert failure is not None
    owner = result.port_owner
    if failure is Failure.NOT_OURS and owner is not None and owner.forum_root is not None:
        return Failure.NOT_RUNNING.title
    return failure.title


def _render_success(result: ServerResult, commands: Commands) -> str:
    if result.action == "stop":
        out = ["# Server Stopped\n", result.message + "\n", md_table([
            ("Previous PID", result.pid),
            ("Stopped workers", ", ".join(map(str, result.workers)) if result.workers else None),
            ("Ran for", format_duration(result.uptime_seconds)),
            ("Log preserved", result.log_file),
        ])]
        next_step = f"Start it again with {commands.start}."
    else:
        heading = "# Server Restarted" if result.action == "restart" else "# Server Started"
        out = [heading + "\n", result.message + "\n", md_table([
            ("Port", result.port),
            ("PID", result.pid),
            ("Workers", ", ".join(map(str, result.workers)) if result.workers else None),
            ("URL", result.url),
            ("Log File", result.log_file),
        ])]
        next_step = f"Open {result.url} in a browser; read errors with {commands.logs_errors}."
    out.append(bullets("Warnings", result.warnings))
    if result.error_logging_change is not None:
        out.append("\n" + render_error_logging(result.error_logging_change).rstrip()
                   + f"\n\nSwitched on because the server runs in development mode (MYBB_DEV_INI=1); "
                   f"undo with {commands.error_logging_off}.")
    out.append(render_visibility(result.visibility, commands, brief=True))
    out.append(bullets("Notes", result.notes))
    out.append(f"\n**Next:** {next_step}")
    return "\n".join(part for part in out if part).strip() + "\n"


def render_error(failure: Failure, problem: str, fix: str) -> str:
    """A failure with its problem and a next step of its own (a hint, or the facts of one call)."""
    return f"# Error: {failure.title}\n\n{problem}\n\n**Next:** {fix}\n"


def render_failure(failure: Failure, problem: str, hint: str | None, commands: Commands) -> str:
    """A failure with its problem, and the hint given with it or else the catalogue's next step."""
    return render_error(failure, problem, hint or failure.next_step(commands.words()))
