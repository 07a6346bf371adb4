"""The MCP server (stdio): the tool registry and the dispatcher on the SDK's low-level `Server`."""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from types import FrameType
from typing import Any

import anyio
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared._context_streams import create_context_streams
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.message import SessionMessage

from . import __version__
from .handlers.tools import ALL_TOOLS, UnknownTool, dispatch_tool
from .orchestration.process import resume_paused
from .workbench import browser_pool

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

# stdout is the protocol channel; SDK deprecation chatter would only reach stderr, but keep it quiet.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

INSTRUCTIONS = (
    "Runs the MyBB forum in MYBB_ROOT on PHP's built-in web server. Start with mybb_server_status; "
    "load a page with mybb_server_request (as guest, admin or a member) to see what it showed and the errors "
    "it raised; pass the cursor it returns to mybb_server_logs with digest=true after a fix to see what is "
    "resolved. Before trying a "
    "plugin or a setting, save a snapshot with mybb_forum_snapshot; diff shows what changed, restore undoes it."
)


async def _list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=ALL_TOOLS)


async def _call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
    try:
        text = await dispatch_tool(params.name, params.arguments, ctx.session.report_progress)
    except UnknownTool:
        known = ", ".join(tool.name for tool in ALL_TOOLS)
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}. Known tools: {known}")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=str(text))],
        is_error=text.is_error,
    )


def create_server() -> Server[Any]:
    return Server(
        "mybb-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )


server = create_server()


def _error_reply(line_error: Exception) -> SessionMessage:
    """The JSON-RPC answer to a line that is not a message: -32700 when it is not JSON at all,
    -32600 when it is JSON but no request, response or notification (the id is unknown: null)."""
    text = str(line_error)
    parse = "json_invalid" in text or isinstance(line_error, json.JSONDecodeError)
    code, what = (types.PARSE_ERROR, "Parse error: the line is not JSON") if parse else (
        types.INVALID_REQUEST, "Invalid request: the line is JSON but not a JSON-RPC 2.0 message")
    error = types.JSONRPCError(jsonrpc="2.0", id=None, error=types.ErrorData(code=code, message=what))
    return SessionMessage(error)


async def run_stdio() -> None:
    """Serve on stdin/stdout until stdin closes. Lines that are not JSON-RPC messages get an error
    reply (the SDK would drop them silently, leaving the client waiting)."""
    async with stdio_server() as (read_stream, write_stream):
        messages_in, messages = create_context_streams[SessionMessage | Exception](0)

        async def answer_bad_lines() -> None:
            async with messages_in:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(_error_reply(item))
                    else:
                        await messages_in.send(item)

        async with anyio.create_task_group() as group:
            group.start_soon(answer_bad_lines)
            await server.run(messages, write_stream, server.create_initialization_options())
            group.cancel_scope.cancel()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGINT/SIGTERM: continue any PHP this process paused mid-rotation, then leave at once.

    Tool calls run in worker threads that may be waiting (on a lock, on PHP); nothing they hold
    needs them to finish - the server state lives on disk - so the process does not wait for them.
    """
    resume_paused()
    _leave(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)


def _leave(code: int) -> None:
    browser_pool.close_all()  # the warm Chromiums (they would also exit when their pipe closes with us)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print("mybb-mcp: MCP server (stdio) for running a MyBB forum on php -S.\n"
              "Configure with MYBB_ROOT, MYBB_PORT, MYBB_HOST, MYBB_PHP (environment or .env).")
        return 0
    if args and args[0] == "--version":
        print(f"mybb-mcp {__version__}")
        return 0
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        anyio.run(run_stdio)
    finally:
        resume_paused()
    # stdin closed: the client is gone. A call still running in a worker thread (non-daemon) would
    # keep the process alive for as long as it takes; leave now instead.
    _leave(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
