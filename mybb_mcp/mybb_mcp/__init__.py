"""mybb-mcp: run a MyBB forum under development on PHP's built-in web server.

One package per concern, data flowing one way (face -> service -> mechanics -> results -> answers):

- `orchestration/`: the server process and the service (`ServerOrchestrationService`), the plan's entry points.
- `logs/`: the log engine: read, parse, query, cursors, digest, follow.
- `forum/`: what the forum is and what we do to it: files, database, install + init, sessions,
  requests, pages, `snapshot/`.
- `workbench/`: the workbench tools (plugins, request trace, sql, members, templates, php), built on `forum`.
- `answers/`: results -> markdown, one module per kind of result, for both faces.
- faces: `cli/` (`mybb-server`), `server.py` + `tools_registry.py` + `handlers/` (MCP on stdio).
- shared: `config`, `errors`, `failures`, `safe_files`, `untrusted`, `results`.
"""

__version__ = "0.1.0"
