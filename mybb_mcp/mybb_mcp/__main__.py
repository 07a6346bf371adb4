"""`python -m mybb_mcp` runs the MCP server on stdio."""

import sys

from .server import main

sys.exit(main())
