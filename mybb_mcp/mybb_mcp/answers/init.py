"""`init` results -> markdown: the forum installed and running, the admin account, what was done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..failures import Failure
from .commands import MCP_COMMANDS
from .common import bullets, md_table
from .lifecycle import render_result

if TYPE_CHECKING:
    from ..results import InitResult
    from .commands import Commands


# init's own steps; any other failed step is a page of MyBB's installer, whose words are shown as data.
_INIT_STEPS = {"php extensions", "target", "source", "download", "checksum", "unpack", "database",
               "move into place", "configure", "stop"}


def render_init(result: InitResult, commands: Commands = MCP_COMMANDS) -> str:
    """Markdown for `init`: the new forum with its admin password (shown this once), or the failed step."""
    if result.failed_step is not None:
        step = result.failed_step
        if step in _INIT_STEPS:
            what = result.message
        else:
            what = "MyBB's installer stopped at its `" + step + "` page:\n```\n" + result.message + "\n```"
        out = [f"# Error: {Failure.INSTALL_FAILED.title}\n", f"Step: **{step}**. {what}\n",
               f"Nothing was installed: {result.root} is as it was.",
               bullets("Notes", result.notes),
               f"\n**Next:** {result.hint or 'Fix the problem above and run init again.'}"]
        return "\n".join(part for part in out if part).strip() + "\n"
    started = result.start is not None and result.start.success
    heading = "# Forum Installed" if started else "# Forum Installed, Server Not Started"
    kept = (f" (shown once; kept in {result.credentials_file}, mode 0600)" if result.credentials_file
            else " (shown once)")
    source = result.source + (f" (SHA-256 {result.sha256}{', checked' if result.verified else ''})"
                              if result.sha256 else "")
    where = f"MyBB {result.version or ''} is installed at {result.root}".replace("  ", " ")
    out = [heading + "\n", where + (" and running.\n" if started else ".\n"),
           md_table([
               ("URL", result.url),
               ("Admin", result.admin_user),
               ("Password", f"`{result.admin_password}`{kept}" if result.admin_password else None),
               ("Database", result.database),
               ("Source", source or None),
               ("Took", f"{result.seconds:.1f} s (install {result.install_seconds:.1f} s, then start)"
                if result.install_seconds is not None else f"{result.seconds:.1f} s"),
               ("PID", result.start.pid if started and result.start else None),
               ("Log File", result.start.log_file if started and result.start else None),
           ]),
           bullets("Notes", result.notes)]
    if started:
        out.append(f"\n**Next:** Open {result.url}/ (Admin CP: {result.url}/admin/); "
                   f"read errors with {commands.logs_errors}.")
    elif result.start is not None:
        out.append("\n" + render_result(result.start, commands))
    return "\n".join(part for part in out if part).strip() + "\n"
