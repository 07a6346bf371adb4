"""`python -m mybb_mcp.cli`: the same as `mybb-server`."""

import sys

from .app import main

sys.exit(main())
