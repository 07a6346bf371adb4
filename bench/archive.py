"""The MyBB release archive the benchmarks install: MYBB_TEST_ARCHIVE, as the tests take it, else the
1.8.37 archive in ../shared/mybb beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def archive_path() -> Path:
    configured = os.environ.get("MYBB_TEST_ARCHIVE", "")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "mybb" / "mybb_1837.tar.gz"
