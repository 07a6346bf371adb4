"""Option types of the CLI: numbers (digits only: no '22_193', '+5' or '0x10'), ports, hosts, paths,
keywords, checked at parse time.

Each option is checked by the validator the service or the query applies itself, so the CLI and the MCP
face cannot disagree on a range, and a bad value is a usage error before anything runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from ..config import whole_number
from ..errors import InvalidArgument
from ..orchestration import LogQueryOptions
from ..orchestration.validation import validate_host, validate_port, validate_workers

ValueT = TypeVar("ValueT")


def checked(validate: Callable[[Any], object], value: ValueT) -> ValueT:
    try:
        validate(value)
    except InvalidArgument as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def int_option(name: str, validate: Callable[[Any], object]) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = whole_number(text.strip())  # strict: '22_193' or '+5' is not taken as another number
        if value is None:
            checked(validate, text)  # the validator words the complaint: "must be a whole number"
            raise argparse.ArgumentTypeError(f"{name} must be a whole number (digits 0-9), got {text!r}.")
        return checked(validate, value)

    parse.__name__ = name  # argparse shows it in some messages
    return parse


def int_in_range(name: str, low: int, high: int) -> Callable[[Any], None]:
    """A validator for a plain bounded number (where no service-side validator names the range)."""
    def validate(value: Any) -> None:
        if isinstance(value, int) and not low <= value <= high:
            raise InvalidArgument(f"{name} must be from {low} to {high}, got {value}.")
    return validate


# ---------------------------------------------------------------------------- argument types
# Each flag is checked at parse time by the validator the service or the query applies itself: the CLI
# and the MCP face cannot disagree on a range, and a bad value is a usage error before anything runs.


def _log_option(name: str) -> Callable[[Any], object]:
    """A validator for one LogQueryOptions field."""
    return lambda value: LogQueryOptions(**{name: value}).validated()


port_arg = int_option("port", validate_port)
workers_arg = int_option("workers", validate_workers)
limit_arg = int_option("limit", _log_option("limit"))
offset_arg = int_option("offset", _log_option("offset"))
since_arg = int_option("since", _log_option("since_minutes"))
max_chars_arg = int_option("max-chars", _log_option("max_chars"))
excerpt_arg = int_option("excerpt", int_in_range("excerpt", 0, 20_000))


def wait_check(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 300:
        raise InvalidArgument(f"wait must be 0 to 300 seconds, not {value!r}.", "e.g. --wait 60")


def host_arg(text: str) -> str:
    return checked(validate_host, text).strip()


def keyword_arg(text: str) -> str:
    return checked(_log_option("filter_keyword"), text)


def path_arg(text: str) -> str:
    return checked(_log_option("path"), text)
