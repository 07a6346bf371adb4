"""`init`: a forum from nothing, with a progress bar for the download.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..answers.commands import CLI_COMMANDS
from ..answers.init import render_init
from ..orchestration.init import InitOptions
from .options import port_arg
from .output import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


def init_command(archive: str | None) -> str:
    """The one command that installs a forum at MYBB_ROOT."""
    return "`mybb-server init" + (f" --from {archive}`" if archive else "` (offline: add `--from ARCHIVE`)")


def empty_or_missing(folder: Path) -> bool:
    try:
        return not any(folder.iterdir())
    except FileNotFoundError:
        return True
    except OSError:
        return False


def run_init(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    options = InitOptions(source=args.source, sha256=args.sha256, database_url=args.db, admin=args.admin,
                          force=args.force, port=args.port, insecure=args.insecure, mybb=args.mybb,
                          php=args.php)
    return init_from_cli(options, service, out)


def init_from_cli(options: InitOptions, service: ServerOrchestrationService, out: Output,
                  from_start: bool = False) -> int:
    on_terminal = sys.stderr.isatty()
    bar = ProgressBar(sys.stderr) if on_terminal else None
    result = service.init_forum(options, progress=_say if on_terminal else None,
                                download_progress=bar.update if bar else None)
    if bar:
        bar.close()
    if from_start and result.failed_step == "download":
        result.notes.append("Offline? Point MYBB_ARCHIVE at a MyBB release archive you have, e.g. "
                            "`MYBB_ARCHIVE=../shared/mybb/mybb_1837.tar.gz ./dev start`.")
    out.show(result, lambda: render_init(result, CLI_COMMANDS))
    return EXIT_OK if result.success else EXIT_FAILED


def _say(step: str) -> None:
    sys.stderr.write(f"init: {step}\n")
    sys.stderr.flush()


class ProgressBar:
    """A one-line download bar on a terminal: `[#####.....]  52%  2.4/4.6 MB`."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False
        self._last = -1.0

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return  # at most ten redraws a second
        self._last = now
        mb = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f}" if total else "") + " MB"
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * done // total:3d}%  {mb}"
        else:
            line = f"downloading  {mb}"
        self.stream.write("\r" + line)
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", metavar="PATH|URL",
                        help="a MyBB release archive (.zip with Upload/ or a repository .tar.gz), a folder holding "
                             "MyBB, or a URL (default: download the newest MyBB 1.8 release known, checked by SHA-256)")
    parser.add_argument("--sha256", metavar="HEX", help="the archive's expected SHA-256 (checked before installing)")
    parser.add_argument("--mybb", metavar="VERSION",
                        help="a MyBB release to install, e.g. 1.8.30 (downloaded, or the archive --from names, and "
                             "checked against the SHA-256 pinned for it)")
    parser.add_argument("--php", metavar="RELEASE",
                        help="run this forum on another PHP release: 7.4, 8.1, 8.2, 8.3, 8.4 or 8.5 (installed into "
                             "the cache on first use, checked by SHA-256, and remembered for the forum's next starts)")
    parser.add_argument("--insecure", action="store_true",
                        help="install from a plain http:// URL without --sha256 (anyone on the way could swap it)")
    parser.add_argument("--db", metavar="URL",
                        help="mysql://USER:PASSWORD@HOST[:PORT]/DATABASE for MySQL/MariaDB "
                             "(default: SQLite beside the forum folder)")
    parser.add_argument("--admin", default="admin", metavar="NAME", help="the admin's user name (default: admin)")
    parser.add_argument("--port", type=port_arg, help="port the forum is served on (default: MYBB_PORT or 8022)")
    parser.add_argument("--force", action="store_true",
                        help="replace a forum already in MYBB_ROOT (its files and its SQLite database)")
