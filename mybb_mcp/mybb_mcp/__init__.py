"""mybb-mcp: run a MyBB forum under development on PHP's built-in web server."""

__version__ = "0.1.0"
