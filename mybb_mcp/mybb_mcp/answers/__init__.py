"""Answers: results -> markdown (and plain text for the CLI), one module per kind of result.

The service returns data (`results.py` and the workbench's result types); the faces (MCP handlers and
the CLI) pass it here to be rendered. Nothing here touches files or processes.
"""
