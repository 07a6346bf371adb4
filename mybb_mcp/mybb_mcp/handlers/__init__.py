"""The MCP edge: the table of tools (`tools.py`), the call of one (`edge.py`), and each tool's work function."""
