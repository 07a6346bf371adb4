"""The MCP server (stdio): the tool registry and the dispatcher on the SDK's low-level `Server`."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

from . import __version__
from .handlers.dispatcher import UnknownTool, dispatch_tool
from .handlers.orchestration import current_progress
from .tools_registry import ALL_TOOLS

# stdout is the protocol channel; SDK deprecation chatter would only reach stderr, but keep it quiet.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

INSTRUCTIONS = (
    "Runs the MyBB forum in MYBB_ROOT on PHP's built-in web server. Start with mybb_server_status; "
    "use mybb_server_logs with errors_only=true after loading a page to see what broke. Before trying a "
    "plugin or a setting, save a snapshot with mybb_forum_snapshot; diff shows what changed, restore undoes it."
)


async def _list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    return types.ListToolsResult(tools=ALL_TOOLS)


async def _call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
    token = current_progress.set(ctx.session.report_progress)
    try:
        text = await dispatch_tool(params.name, params.arguments, None, None, None)
    except UnknownTool:
        known = ", ".join(tool.name for tool in ALL_TOOLS)
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}. Known tools: {known}")
    finally:
        current_progress.reset(token)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=str(text))],
        is_error=bool(getattr(text, "is_error", False)),
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


async def run_stdio() -> None:
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print("mybb-mcp: MCP server (stdio) for running a MyBB forum on php -S.\n"
              "Configure with MYBB_ROOT, MYBB_PORT, MYBB_HOST, MYBB_PHP (environment or .env).")
        return 0
    if args and args[0] == "--version":
        print(f"mybb-mcp {__version__}")
        return 0
    anyio.run(run_stdio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
