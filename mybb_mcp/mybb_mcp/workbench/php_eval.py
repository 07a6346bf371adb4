"""A PHP snippet inside the booted forum: MyBB's global.php loaded, in a child PHP with a timeout and a
memory limit; its return value (var_export), output and errors come back, each bounded.

The code travels as JSON on stdin and runs through eval() at the top level (so `$mybb`, `$db`,
`$cache`, `$templates`, `$lang` are there, as in a page); nothing is pasted into PHP source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgument
from ..forum.php import STOPPED_OUTPUT, STOPPED_TIME, PhpLimits, PhpRunError, run_mybb_php
from .php_json import answer_object, items, objects, str_at, text, to_int

DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 60
MEMORY_LIMIT = "128M"
MAX_CODE_CHARS = 50_000
PART_CHARS = 8_000  # each of return value, output, errors
MAX_ERRORS = 20
# Held from outside the PHP (forum/php_limits.py), where ini_set() and setsid cannot reach: the address
# space (PHP 8.2 with MyBB booted peaks near 100 MB of it; memory_limit stops the code well before),
# CPU time, the bytes read of its output, and every process it starts ends with it.
ADDRESS_SPACE = 512 * 2**20
OUTPUT_BYTES = 4 * 2**20

_EVAL_FILE = Path(__file__).with_name("php_eval.php")

# global.php as a page loads it (session, user, theme, templates, language); then the snippet.
_BOOT_GLOBAL = "require_once MYBB_ROOT . 'global.php';\n"


@dataclass(frozen=True)
class PhpError:
    kind: str  # "warning", "notice", "deprecated", "fatal", ...
    message: str
    file: str
    line: int


@dataclass(frozen=True)
class PhpEvalResult:
    finished: bool  # the snippet ran to its end (returned or threw)
    return_value: str | None  # var_export() of what it returned
    output: str
    errors: list[PhpError] = field(default_factory=list)
    exception: str | None = None
    stopped: str | None = None  # why it was stopped: the timeout, the memory limit, a fatal error
    timeout: float = DEFAULT_TIMEOUT
    memory_limit: str = MEMORY_LIMIT


_KINDS = {1: "error", 2: "warning", 8: "notice", 256: "user error", 512: "user warning", 1024: "user notice",
          2048: "strict", 4096: "recoverable error", 8192: "deprecated", 16384: "user deprecated"}


def eval_php(root: Path, code: str, timeout: float = DEFAULT_TIMEOUT, php: str = "php",
             php_settings: Sequence[str] = ()) -> PhpEvalResult:
    """Run `code` (PHP without `<?php`; `return X;` to get X back) inside the booted forum."""
    if not code.strip():
        raise InvalidArgument("The code is empty.", "Pass PHP such as `return $mybb->settings['bbname'];`.")
    if len(code) > MAX_CODE_CHARS:
        raise InvalidArgument(f"The code is {len(code):,} characters; at most {MAX_CODE_CHARS:,}.", "Send less.")
    if not 1 <= timeout <= MAX_TIMEOUT:
        raise InvalidArgument(f"timeout_seconds {timeout:g} is out of range.", f"Use 1-{MAX_TIMEOUT}.")
    code = code.strip()
    if code.startswith("<?php"):
        code = code[5:]
    settings = [*php_settings, f"memory_limit={MEMORY_LIMIT}", f"max_execution_time={int(timeout)}"]
    try:
        snippet = _BOOT_GLOBAL + _EVAL_FILE.read_text("utf-8").removeprefix("<?php")
        run = run_mybb_php(root, snippet, {"code": code}, php=php, php_settings=settings,
                           limits=PhpLimits(int(timeout) + 1, ADDRESS_SPACE, OUTPUT_BYTES, timeout + 1))
    except PhpRunError as exc:
        ended = (f"it did not finish within {timeout:g} s and was stopped, with every process it started"
                 if exc.stopped == STOPPED_TIME or "did not finish" in exc.message
                 else f"it printed more than {OUTPUT_BYTES // 2**20} MB and was stopped, with every process it "
                      "started" if exc.stopped == STOPPED_OUTPUT
                 else f"it reached the address-space limit ({ADDRESS_SPACE // 2**20} MB, held outside PHP: ini_set "
                      "cannot lift it) and PHP ended: Out of memory" if "Out of memory" in exc.message
                 else exc.message)
        return PhpEvalResult(False, None, "", [], None, ended, timeout)
    data = answer_object(run.result)
    errors = []
    for e in objects(items(data.get("errors"))[:MAX_ERRORS]):
        kind = e.get("type")
        errors.append(PhpError(kind if isinstance(kind, str) else _KINDS.get(to_int(kind or 0), f"E_{kind}"),
                               cut_text(str(e.get("message") or ""), 1000), str(e.get("file") or ""),
                               to_int(e.get("line") or 0)))
    threw = data.get("exception")
    exception = (f"{threw.get('class')}: {threw.get('message')} ({threw.get('file')}:{threw.get('line')})"
                 if isinstance(threw, dict) else None)
    finished = bool(data.get("finished"))
    stopped: str | None = None
    if not finished:
        fatal = next((e for e in errors if e.kind == "fatal"), None)
        message = fatal.message if fatal else "it stopped (exit) before returning"
        stopped = (f"it reached the memory limit ({MEMORY_LIMIT}): {message}" if "memory size" in message
                   else f"it reached the address-space limit ({ADDRESS_SPACE // 2**20} MB, held outside PHP: "
                        f"ini_set cannot lift it): {message}" if "Out of memory" in message
                   else f"it reached the time limit ({timeout:g} s): {message}" if "execution time" in message
                   else message)
    output = text(data.get("output")) + run.output
    returned = str_at(data, "return") if finished and data.get("return") is not None else None
    return PhpEvalResult(finished, cut_text(returned, PART_CHARS) if returned is not None else None,
                         cut_text(output, PART_CHARS), errors, cut_text(exception, 2000) if exception else None,
                         stopped, timeout)


def cut_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text):,} characters in all; {len(text) - limit:,} left out)"
