"""MCP tool handlers, keyed by tool name in `dispatcher.HANDLER_REGISTRY`."""
