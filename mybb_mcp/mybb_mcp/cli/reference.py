"""The reference and doctor commands: `mybb-server ref [KIND] NAME`, `mybb-server doctor`."""

from __future__ import annotations

import argparse
from typing import Any

from ..answers.commands import CLI_COMMANDS
from ..answers.doctor import render_doctor
from ..answers.reference import render_reference
from ..errors import InvalidArgument
from ..forum.reference import KINDS

EXIT_OK, EXIT_FAILED = 0, 1


def add_doctor(parser: argparse.ArgumentParser) -> None:
    """No options: every check runs (about a second)."""


def run_doctor(args: argparse.Namespace, service: Any, out: Any) -> int:
    report = service.forum.doctor()
    out.show(report, lambda: render_doctor(report, CLI_COMMANDS))
    return EXIT_FAILED if report.problems else EXIT_OK


def add_ref(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs="*", metavar="[KIND] NAME",
                        help=f"a NAME (every kind called so), KIND NAME with KIND one of {', '.join(KINDS)}, a KIND "
                             "alone (the size of its index), or `search WORDS`")


def run_ref(args: argparse.Namespace, service: Any, out: Any) -> int:
    words = list(args.words)
    kind = name = query = None
    if words and words[0] == "search":
        if len(words) < 2:
            raise InvalidArgument("`ref search` needs the words to search for.", "e.g. mybb-server ref search post bit")
        query = " ".join(words[1:])
    elif len(words) == 1:
        kind, name = (words[0], None) if words[0] in KINDS else (None, words[0])
    elif len(words) == 2:
        kind, name = words
        if kind not in KINDS:
            raise InvalidArgument(f"{kind!r} is not a kind of reference.", f"Use one of {', '.join(KINDS)}, "
                                  "or `ref search WORDS`.")
    elif len(words) > 2:
        raise InvalidArgument("`ref` takes [KIND] NAME.", "e.g. mybb-server ref template postbit, or ref search WORDS")
    answer = service.forum.reference(kind, name, query)
    out.show(answer, lambda: render_reference(answer, CLI_COMMANDS))
    return EXIT_OK if answer.found else EXIT_FAILED
