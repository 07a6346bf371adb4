"""Whether an answer that should be JSON is JSON, and if not, what broke it.

One function, `judge_json`, for every caller that holds an answer: the body, its Content-Type and what PHP printed
while making it (each write with the line that made it, from request_costs.php's output watch). An AJAX answer is
commonly broken by a PHP warning displayed before the JSON, or by stray output (an `echo` left in a handler): the
verdict names each, with the file:line PHP was executing when it printed.

Everything here comes from the forum: the caller renders it inert.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MAX_LOCATE_CHARS = 1_000_000  # past this the JSON is not searched for in a broken answer
MAX_CANDIDATES = 200
COMPACT_CHARS = 600

# PHP's display_errors formats (html_errors on or off), and MyBB's own warning line.
_TAGS = r"(?:<[a-z/][^>]{0,20}>)*"  # html_errors' <b>, Xdebug's <i>
_PHP_SHOWN = re.compile(
    rf"{_TAGS}(?P<level>(?:PHP )?(?:Warning|Notice|Deprecated|Fatal error|Parse error|Strict Standards)){_TAGS}:\s*"
    rf"(?P<message>.{{1,500}}?) in {_TAGS}(?P<file>[^\s<]+?){_TAGS} on line {_TAGS}(?P<line>\d+)", re.S)
_MYBB_SHOWN = re.compile(
    r"<strong>(?P<level>[A-Za-z ]{1,40})</strong> \[\d+\] (?P<message>.{1,500}?) - Line: (?P<line>\d+) - "
    r"File: (?P<file>\S+)", re.S)


@dataclass(frozen=True)
class Printed:
    """One write PHP made to the answer: where in it (bytes), and the line PHP was executing."""

    offset: int
    length: int
    place: str  # "inc/plugins/x.php:12" (root-relative), "" when PHP was in no file (its own shutdown)
    head: str  # the write's first bytes
    tail: str = ""


@dataclass(frozen=True)
class Culprit:
    """What broke the JSON: a PHP warning shown in the answer, or output no warning explains."""

    kind: str  # "warning" or "output"
    text: str  # the warning's message, or the stray bytes (cut)
    place: str | None  # file:line: the warning's own, or the line that printed it
    where: str  # "before" or "after" the JSON, or "instead" (no JSON in the answer)


@dataclass(frozen=True)
class JsonVerdict:
    expected_because: str  # why the answer should be JSON
    valid: bool
    compact: str | None = None  # a valid answer, compact (cut)
    compact_cut: bool = False
    problem: str | None = None  # a broken one: what is wrong, in one phrase
    culprits: list[Culprit] = field(default_factory=list)
    printed_known: bool = True  # False: where stray output was printed is not known


def expected_json(target: str, content_type: str, form: Sequence[tuple[str, str]] = ()) -> str | None:
    """Why the answer to `target` (path + query as sent) should be JSON, or None: MyBB's xmlhttp.php, the
    `ajax=1` MyBB's own pages answer AJAX to, or a JSON Content-Type."""
    parts = urllib.parse.urlsplit(target)
    if parts.path.rstrip("/").endswith("/xmlhttp.php") or parts.path == "xmlhttp.php":
        return "xmlhttp.php answers MyBB's AJAX calls"
    fields = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(form)
    if any(name == "ajax" and value not in ("", "0") for name, value in fields):
        return "`ajax` was sent, which asks MyBB's pages and plugins for an AJAX answer"
    if content_type == "application/json" or content_type.endswith("+json"):
        return f"its Content-Type is {content_type}"
    return None


def judge_json(body: str, content_type: str, printed: Sequence[Printed] | None, expected_because: str | None,
               root: str = "") -> JsonVerdict | None:
    """The verdict on an answer that should be JSON (None when it need not be). `root`: the forum's folder, cut
    from the paths PHP's warnings name."""
    reason = expected_because or expected_json("", content_type)
    if reason is None:
        return None
    stripped = body.strip()
    if stripped:
        try:
            value = json.loads(stripped)
        except ValueError:
            pass
        else:
            compact = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            return JsonVerdict(reason, True, compact[:COMPACT_CHARS], len(compact) > COMPACT_CHARS)
    if not stripped:
        culprits = [] if not body else [Culprit("output", body[:200], None, "instead")]
        return JsonVerdict(reason, False, problem="the answer is empty" if not body else "the answer is only "
                           "white space", culprits=culprits, printed_known=printed is not None)
    span = _locate(body)
    if span is None:
        problem = "no JSON value in the answer"
        culprits = _culprits(body, [(0, len(body), "instead")], printed, root)
    else:
        start, end = span
        parts = []
        if body[:start].strip():
            parts.append((0, start, "before"))
        if body[end:].strip():
            parts.append((end, len(body), "after"))
        where = " and ".join(p[2] for p in parts)
        problem = f"output {where} the JSON"
        culprits = _culprits(body, parts, printed, root)
    return JsonVerdict(reason, False, problem=problem, culprits=culprits, printed_known=printed is not None)


def _locate(body: str) -> tuple[int, int] | None:
    """The longest JSON object or array inside the body (where the answer meant to start)."""
    if len(body) > MAX_LOCATE_CHARS:
        return None
    decoder = json.JSONDecoder()
    best: tuple[int, int] | None = None
    tried = 0
    for match in re.finditer(r"[{\[]", body):
        if best is not None and match.start() < best[1]:
            continue  # inside the one found
        tried += 1
        if tried > MAX_CANDIDATES:
            break
        try:
            _, end = decoder.raw_decode(body, match.start())
        except ValueError:
            continue
        if best is None or end - match.start() > best[1] - best[0]:
            best = (match.start(), end)
    return best


def _culprits(body: str, parts: list[tuple[int, int, str]], printed: Sequence[Printed] | None,
              root: str) -> list[Culprit]:
    """For each stray part: the warnings shown in it (their own file:line), then the writes no warning explains
    (the line that printed them)."""
    found: list[Culprit] = []
    encoded_at = _byte_offsets(body)
    for start, end, where in parts:
        text = body[start:end]
        shown: list[tuple[int, int]] = []
        for pattern in (_PHP_SHOWN, _MYBB_SHOWN):
            for match in pattern.finditer(text):
                if any(a <= match.start() < b for a, b in shown):
                    continue
                shown.append((match.start(), match.end()))
                level = match["level"].removeprefix("PHP ")
                file = match["file"]
                prefix = root.rstrip("/") + "/"
                file = file[len(prefix):] if root and file.startswith(prefix) else file
                found.append(Culprit("warning", f"{level}: {_plain(match['message'])}", f"{file}:{match['line']}",
                                     where))
        if printed is None:
            if not shown:
                found.append(Culprit("output", text.strip()[:200], None, where))
            continue
        first, last = encoded_at(start), encoded_at(end)
        by_place: dict[str, list[Printed]] = {}
        for write in printed:
            if write.offset < last and write.offset + write.length > first:
                by_place.setdefault(write.place, []).append(write)
        for place, writes in by_place.items():
            own = "".join(w.head for w in writes if w.head.strip()) or None
            if own is None or _explained(own, text, shown):
                continue
            found.append(Culprit("output", own.strip()[:200] or own[:200], place or None, where))
        if not by_place and not shown:
            found.append(Culprit("output", text.strip()[:200], None, where))
    return found


def _byte_offsets(body: str) -> Callable[[int], int]:
    """Character index in the body -> byte offset in the answer PHP wrote (UTF-8)."""
    def at(index: int) -> int:
        return len(body[:index].encode("utf-8", "replace"))
    return at


def _explained(own: str, text: str, shown: list[tuple[int, int]]) -> bool:
    """Whether a write is the text of a warning already named (PHP printed the warning itself)."""
    probe = own.strip()[:60]
    if not probe:
        return True
    at = text.find(probe)
    return at >= 0 and any(a <= at < b or (at <= a < at + len(own)) for a, b in shown)


def _plain(text: str) -> str:
    return re.sub(r"<[^>]{0,200}>", "", text).strip()
