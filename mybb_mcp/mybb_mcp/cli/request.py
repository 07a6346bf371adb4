"""`request PATH`: a page as guest, member or admin, and the errors of exactly that request.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..answers.browser import browser_problems
from ..answers.commands import CLI_COMMANDS
from ..answers.request import render_page_result
from ..forum.requests import PageRequest
from .options import excerpt_arg
from .output import EXIT_FAILED, EXIT_OK, to_jsonable

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def run_request(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    request = PageRequest(
        path=args.path, method="POST" if args.post or args.data else "GET", role=args.role,
        query=tuple(args.query or ()), form=tuple(args.data or ()), follow_redirects=not args.no_follow,
        excerpt=args.excerpt or 0, selector=args.selector, contains=args.contains, debug=args.debug,
        trace=args.trace, plugins=None if args.plugins is None else (
            "none" if args.plugins == "none" else tuple(p.strip() for p in args.plugins.split(",") if p.strip())),
        queries=args.queries, profile=args.profile, slow_query_ms=args.slow_ms,
        browser=args.browser,
    )
    result = service.forum.request_page(request)
    if out.as_json:
        data = to_jsonable(result)
        if result.response is not None:
            data["response"].pop("body", None)  # the page itself: ask for --excerpt
        out.data(data)
    else:
        out.markdown(render_page_result(result, CLI_COMMANDS))
    if result.response is None:
        return EXIT_FAILED
    failed = result.errors or result.response.page_error is not None or browser_problems(result)
    return EXIT_FAILED if failed else EXIT_OK


def add_request(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="forum path: index.php, showthread.php?tid=1, admin/index.php?module=...")
    parser.add_argument("--post", action="store_true", help="POST instead of GET (implied by -d)")
    parser.add_argument("--as", dest="role", default="guest", metavar="ROLE",
                        help="guest (default), admin, or a member's user name (MYBB_MEMBER_<NAME>_PASSWORD)")
    parser.add_argument("-d", "--data", type=_field, action="append", metavar="NAME=VALUE",
                        help="a form field (repeatable); my_post_key is added when MyBB wants it")
    parser.add_argument("-q", "--query", type=_field, action="append", metavar="NAME=VALUE",
                        help="a query-string field (repeatable)")
    parser.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    parser.add_argument("--excerpt", type=excerpt_arg, metavar="CHARS", help="print this much of the page's text")
    parser.add_argument("--selector", metavar="CSS", help="say whether a simple selector (tag, #id, .class) matches")
    parser.add_argument("--contains", metavar="TEXT", help="say whether the page holds this text")
    parser.add_argument("--debug", action="store_true", help="MyBB's debug report (front-end pages, as admin)")
    parser.add_argument("--trace", action="store_true",
                        help="the hooks that ran, the plugin functions they called, the templates used")
    parser.add_argument("--plugins", metavar="none|NAME,NAME",
                        help="run this request without plugins (none) or without the named ones")
    parser.add_argument("--queries", action="store_true",
                        help="every SQL statement it ran, grouped, with caller file:line, hook and plugin")
    parser.add_argument("--profile", action="store_true", help="wall time and queries of each plugin function per hook")
    parser.add_argument("--slow-ms", type=int, default=50, metavar="MS",
                        help="with --queries: statements slower than this are marked slow (default 50)")
    parser.add_argument("--browser", action="store_true",
                        help="load it in headless Chromium: script errors, failed requests and broken AJAX answers "
                             "with their PHP errors, a screenshot (MYBB_CHROMIUM or `chromium` on PATH)")
