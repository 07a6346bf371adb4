"""The reference and doctor commands: `mybb-server ref [KIND] NAME`, `mybb-server doctor`."""

from __future__ import annotations

import argparse
from typing import Any

from ..answers.doctor import render_doctor

EXIT_OK, EXIT_FAILED = 0, 1


def add_doctor(parser: argparse.ArgumentParser) -> None:
    """No options: every check runs (about a second)."""


def run_doctor(args: argparse.Namespace, service: Any, out: Any) -> int:
    report = service.doctor()
    out.show(report, lambda: render_doctor(report, False))
    return EXIT_FAILED if report.problems else EXIT_OK
