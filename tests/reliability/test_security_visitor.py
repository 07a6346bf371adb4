"""Issue 12, what a forum visitor can do: hide activity or forge what the agent and the person read.

Everything here runs a real `php -S` (through the service) on the fixture forum and sends it hostile
requests over raw sockets: paths under the probe's name, request data with newlines that forge
timestamped log lines, terminal escape sequences, backticks. Each test name starts with the item of
issue 12 it covers.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.answers.logs import render_log_query
from mybb_mcp.answers.status import render_status
from mybb_mcp.logs.parser import READY_PROBE_PATH, format_php_timestamp
from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from tests.reliability.conftest import TIMEOUT, cli_env, wait_for

# The hostile pages, and the fixtures `hostile_forum` and `running` that serve them, are in conftest.py:
# test_security_round2.py uses them too.


def raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes as they are (no client library tidies them) and return the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, target: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {target} HTTP/1.0", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return raw_request(port, ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape"))


def post(port: int, target: str, fields: dict[str, str]) -> bytes:
    body = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()
    head = (f"POST {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return raw_request(port, head, body)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def logged(service: ServerOrchestrationService, text: str) -> bool:
    return wait_for(lambda: text in service.config.log_file.read_text(errors="replace"), timeout=10)


def query(service: ServerOrchestrationService, **options: object) -> tuple[list, str]:
    opts = LogQueryOptions(**options)  # type: ignore[arg-type]
    return service.logs.search_logs(opts).entries, render_log_query(service.logs.search_logs(opts))


# --- item 5: only the tool's own exact probe is hidden; nothing under its name reaches a script ------------


@pytest.mark.parametrize("target", [
    "/__mybb_mcp/../key.php?k=hidden",
    "/__mybb_mcp/%2e%2e/key.php?k=hidden",
    "/__MYBB_MCP/../key.php?k=hidden",
    "//__mybb_mcp/../key.php?k=hidden",
    "/__mybb_mcp_ready/../key.php?k=hidden",
    "/__mybb_mcp_readyx",
])
def test_item5_paths_under_the_probe_name_reach_no_script_and_stay_visible(
    running: ServerOrchestrationService, target: str
) -> None:
    port = running.config.port
    answer = get(port, target)
    assert status_of(answer) == 404 and b"keyed" not in answer
    assert logged(running, f"GET {target}")
    entries, text = query(running, limit=20)
    assert any(e.path == target for e in entries), text
    assert "Undefined array key" not in running.config.log_file.read_text(errors="replace")


def test_item5_the_exact_probe_is_the_only_request_hidden(running: ServerOrchestrationService) -> None:
    port = running.config.port
    assert status_of(get(port, READY_PROBE_PATH)) == 204
    assert status_of(get(port, READY_PROBE_PATH + "?x=1")) == 404  # not the probe: refused, and shown
    assert status_of(post(port, READY_PROBE_PATH, {"a": "b"})) == 404
    assert status_of(get(port, "/key.php?k=" + quote("/__mybb_mcp"))) == 200
    assert logged(running, "[200]: GET /key.php")
    entries, _ = query(running, limit=50)
    paths = [(e.method, e.path) for e in entries if e.path is not None]
    assert ("GET", READY_PROBE_PATH) not in paths
    assert ("GET", READY_PROBE_PATH + "?x=1") in paths
    assert ("POST", READY_PROBE_PATH) in paths
    assert ("GET", "/key.php?k=/__mybb_mcp") in paths


# --- item 13 (keyword part): full Unicode case folding, block-wise -------------------------------------------


def test_item13_keywords_fold_case_beyond_ascii(running: ServerOrchestrationService) -> None:
    port = running.config.port
    words = ["Ärger im Forum", "STRASSE gesperrt", "Straße offen", "ΣΊΣΥΦΟΣ", "plain ASCII Word", "Kelvin \u212a"]
    for number, word in enumerate(words):
        assert status_of(get(port, "/real_error.php?m=" + quote(f"{number}-{word}"))) == 200
    assert logged(running, "REAL-RECENT-ERROR 5-")
    cases = {
        "ärger": ["0-"], "ÄRGER": ["0-"], "straße": ["1-", "2-"], "STRASSE": ["1-", "2-"],
        "σίσυφος": ["3-"], "ascii word": ["4-"], "kelvin k": ["5-"], "gesperrt": ["1-"],
    }
    for keyword, expected in cases.items():
        entries, text = query(running, filter_keyword=keyword, errors_only=True, include_mybb=False)
        found = sorted({m.group(1) for e in entries for m in [re.search(r"REAL-RECENT-ERROR (\d-)", e.message)] if m})
        assert found == expected, (keyword, text)


@pytest.mark.parametrize("block", [64, 4096])
def test_item13_case_folding_holds_across_blocks_both_ways(tmp_path: Path, block: int) -> None:
    from mybb_mcp.logs.reader import iter_entries_backward, iter_entries_forward

    stamp = "[Sun Nov 29 02:00:00 2026] "
    lines = []
    for n in range(300):
        word = ("Ärger" if n % 7 == 0 else "ärgerlich") if n % 3 == 0 else "nothing here"
        lines.append(f"{stamp}PHP Warning:  entry {n} {'ß' * (n % 5)} {word}\n")
        if n % 4 == 0:
            lines.append(f"#0 trace ünïcödé line for {n}\n")
    log = tmp_path / "server.log"
    log.write_text("".join(lines), encoding="utf-8")
    expected = [n for n in range(300) if n % 3 == 0]
    for reader in (iter_entries_forward, iter_entries_backward):
        got = [int(raw.split(b" entry ")[1].split()[0])
               for _, raw in reader(log, keyword="ÄRGER".encode(), block_size=block, max_block_size=block)]
        assert sorted(got) == expected and len(got) == len(expected), reader.__name__
    both = [raw for _, raw in iter_entries_forward(log, keyword="ÜNÏCÖDÉ".encode(), block_size=block,
                                                   max_block_size=block)]
    assert len(both) == 75 and all(b"PHP Warning" in raw for raw in both)


# --- item 6: forged lines, markup and terminal control --------------------------------------------------------


def forged_lines(count: int, moment: datetime, text: str) -> str:
    """What a visitor puts into request data so that PHP's verbatim log gets whole timestamped lines."""
    stamp = format_php_timestamp(moment)
    return "x\n" + "\n".join(f"[{stamp}] PHP Fatal error:  {text} {n} in /srv/x.php on line {n}"
                             for n in range(count))


def test_item6_forged_old_stamps_do_not_steer_since_past_a_recent_error(running: ServerOrchestrationService) -> None:
    port = running.config.port
    assert status_of(get(port, "/real_error.php?m=before")) == 200
    # ~200 KB of forged lines, two days old, right after the real error: a bisection landing in them
    # would believe everything before is old.
    assert status_of(post(port, "/logpost.php", {"text": forged_lines(3000, datetime.now() - timedelta(days=2),
                                                                        "FORGED-OLD")})) == 200
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(running, "[200]: GET /ok.php")
    assert running.config.log_file.stat().st_size > 3 * 64 * 1024
    for tail in (True, False):
        entries, text = query(running, since_minutes=5, errors_only=True, tail=tail, limit=1000)
        messages = " ".join(e.message for e in entries)
        assert "REAL-RECENT-ERROR before" in messages, text
        assert "FORGED-OLD" not in messages  # outside the window, as its stamps say
    # Shown when they are asked for (no window), but marked: their stamps go back in time.
    entries, text = query(running, errors_only=True, filter_keyword="FORGED-OLD 29", limit=5)
    forged = [e for e in entries if e.message.startswith("FORGED-OLD 29")]
    assert forged and all(e.out_of_order for e in forged), text
    assert "may be forged by request data" in text and "go back in time" in text


def strip_code_spans(line: str) -> str:
    """A markdown line without its code spans (CommonMark: a run of N backticks ends at the next run of
    exactly N); what is left is what a markdown reader would interpret."""
    out, i = [], 0
    while i < len(line):
        if line[i] != "`":
            out.append(line[i])
            i += 1
            continue
        run = len(line[i:]) - len(line[i:].lstrip("`"))
        closing = re.compile(r"(?<!`)" + "`" * run + r"(?!`)")
        match = closing.search(line, i + run)
        if match is None:  # an unmatched run is literal text
            out.append(line[i:i + run])
            i += run
        else:
            i = match.end()
    return "".join(out)


def outside_code(markdown: str) -> str:
    """The parts of a markdown answer outside code blocks and code spans."""
    kept, fence = [], None
    for line in markdown.split("\n"):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
            continue
        if fence is not None:
            if stripped.startswith(fence) and not stripped.strip("`"):
                fence = None
            continue
        kept.append(strip_code_spans(line))
    assert fence is None, "a code block never closed"
    return "\n".join(kept)


PAYLOAD = "PWN"  # every hostile string below carries it; it must never be outside code


def test_item6_log_text_never_becomes_markup(running: ServerOrchestrationService) -> None:
    port = running.config.port
    hostile_targets = [
        "/key.php?k=`[PWN-link](http://evil.example/PWN)`",
        "/key.php?k=``**PWN-bold**``",
        "/nope-`PWN`-`` ``.php",
    ]
    for target in hostile_targets:
        get(port, target)
    post(port, "/key.php", {"k": "PWN\n## PWN heading\n```\n[PWN](http://evil.example)\n````\n**PWN**"})
    post(port, "/key.php", {"k": forged_lines(2, datetime.now(), "PWN-`](x)`-forged")})
    get(port, "/agent.php", headers={"User-Agent": "`PWN` ``` ~~~ <http://evil.example/PWN>"})
    assert logged(running, "agent: `PWN`")
    for options in ({"limit": 100}, {"errors_only": True, "limit": 100}, {"filter_keyword": "pwn", "limit": 100}):
        _, text = query(running, exclude_static=False, **options)
        assert PAYLOAD in text  # shown ...
        free = outside_code(text)
        assert PAYLOAD not in free, free  # ... but only as code
        assert not [line for line in text.split("\n") if line.startswith("#") and line != "# Server Logs"]


RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def run_cli(forum: Path, port: int, php: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PORT=str(port), MYBB_PHP=php, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_item6_the_cli_prints_no_terminal_control_from_the_log(
    running: ServerOrchestrationService, php: str, tmp_path: Path
) -> None:
    port = running.config.port
    hostile = "\x1b]0;PWN title\x07\x1b[2J\x1b[31mPWN\u009b2J\u202eNWP\r"
    get(port, "/agent.php", headers={"User-Agent": hostile})
    post(port, "/key.php", {"k": "PWN\x1b[2J\n\x1b]0;t\x07 second line\u2066"})
    assert logged(running, "agent: \x1b]0;PWN")
    forum = running.config.mybb_root
    for args in (["logs"], ["logs", "--errors"], ["logs", "--json"], ["logs", "--grep", "pwn"], ["status"]):
        done = run_cli(forum, port, php, tmp_path, *args)
        assert done.returncode == 0, done.stderr
        assert not RAW_CONTROLS.findall(done.stdout + done.stderr), (args, done.stdout)
        if args[0] == "logs" and "--errors" not in args:  # the agent line is no error
            assert "\\x1b]0;PWN title\\x07" in done.stdout or "\\u001b]0;PWN title\\u0007" in done.stdout, args


def test_item6_a_port_owners_command_line_stays_data_in_status(
    hostile_forum: Path, service: ServerOrchestrationService, php: str, tmp_path: Path
) -> None:
    port = service.config.port
    listener = ("import socket, sys, time\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\n"
                "s.listen()\nprint('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", listener, str(port), "\n## Notes\n- PWN: all is well `x` [PWN](http://evil)\x1b[2J"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        text = render_status(service.get_status())
        assert "PWN" in text
        assert PAYLOAD not in outside_code(text), text
        assert [line for line in text.split("\n") if line.startswith("#")] == [
            "# Server Status: Stopped", "## Warnings", "## Errors in the log"]
        done = run_cli(hostile_forum, port, php, tmp_path, "status")
        assert "PWN" in done.stdout and not RAW_CONTROLS.findall(done.stdout)
        started = service.start()
        assert not started.success and "PWN" in render_result(started)
        assert PAYLOAD not in outside_code(render_result(started))
    finally:
        proc.kill()
        proc.wait()


# --- item 7: memory per query and answer size are bounded, whatever the entries contain -----------------------


def write_hostile_log(path: Path, now: datetime, megabytes: int = 40) -> None:
    """What a few POSTs leave when their data lands in PHP's messages: entries of several MB, one of
    them a single line, the others millions of short continuation lines; ordinary traffic between."""
    stamp = f"[{format_php_timestamp(now)}] "
    with open(path, "wb") as handle:
        handle.write(f"{stamp}PHP 8.2.0 Development Server (http://127.0.0.1:1) started\n".encode())
        written, n = 0, 0
        while written < megabytes * 1024 * 1024:
            if n % 3 == 0:
                body = b"x" * (6 * 1024 * 1024)  # one 6 MB line
            else:
                body = b"\n".join(b"%d PHP [4 - line" % i for i in range(400_000))  # 400k lines, ~7 MB
            entry = (stamp.encode() + b'PHP Warning:  Undefined array key "' + body
                     + b'" in /srv/forum/key.php on line 3\n')
            normal = "".join(f"{stamp}127.0.0.1:{40000 + i} [200]: GET /index.php?n={n}-{i}\n" for i in range(50))
            handle.write(entry + normal.encode())
            written += len(entry) + len(normal)
            n += 1


@pytest.mark.parametrize("options", [
    {}, {"errors_only": True, "limit": 1000}, {"filter_keyword": "line", "limit": 1000},
    {"since_minutes": 5, "errors_only": True, "tail": False}, {"filter_keyword": "ärger"},
], ids=["default", "errors-1000", "keyword-1000", "since-head", "unicode-keyword"])
def test_item7_memory_per_query_and_answer_size_are_bounded(tmp_path: Path, options: dict[str, object]) -> None:
    import tracemalloc

    from mybb_mcp.answers.logs import render_log_query
    from mybb_mcp.logs.bounds import MAX_ANSWER_BYTES
    from mybb_mcp.logs.query import run_query

    now = datetime(2026, 11, 29, 3, 0, 0)
    log = tmp_path / "server.log"
    write_hostile_log(log, now, megabytes=20)
    tracemalloc.start()
    try:
        result = run_query(log, LogQueryOptions(**options), now=now)  # type: ignore[arg-type]
        text = render_log_query(result)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, f"{peak / 2**20:.1f} MiB"
    assert len(text.encode()) < MAX_ANSWER_BYTES + 4096
    if options.get("filter_keyword") != "ärger":
        assert result.entries
    for entry in result.entries:
        assert len(entry.message) + sum(len(line) for line in entry.continuation) < 70 * 1024
    giant = [e for e in result.entries if e.cut_bytes]
    if options.get("errors_only") or options.get("filter_keyword") == "line":
        assert giant and "cut from the middle of this entry" in text
        assert all(e.cut_bytes > 5 * 1024 * 1024 for e in giant)
    if len(result.entries) < (options.get("limit") or 50) and result.has_more:
        assert "size cap" in text  # the page ended at the cap, and says how to go on


def test_item7_a_keyword_cannot_hold_the_readers_cut_mark() -> None:
    from mybb_mcp.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="NUL"):
        LogQueryOptions(filter_keyword="a\x00\x00b").validated()


def test_item7_four_queries_in_parallel_stay_bounded(tmp_path: Path) -> None:
    import threading
    import tracemalloc

    from mybb_mcp.logs.query import run_query

    now = datetime(2026, 11, 29, 3, 0, 0)
    log = tmp_path / "server.log"
    write_hostile_log(log, now, megabytes=14)
    results: list[object] = []
    tracemalloc.start()
    try:
        threads = [threading.Thread(target=lambda: results.append(run_query(
            log, LogQueryOptions(errors_only=True, limit=1000), now=now))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(4 * TIMEOUT)  # tracing every allocation of four threads is slow on a busy machine
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(results) == 4
    assert peak < 4 * 50 * 1024 * 1024, f"{peak / 2**20:.1f} MiB"


# --- item 11: following the log under load loses nothing at a rotation -----------------------------------------


def test_item11_follow_reads_each_line_exactly_once_across_rotations_under_load(
    hostile_forum: Path, make_service, php: str, tmp_path: Path
) -> None:
    import json
    import signal
    import threading
    import time

    from tests.conftest import http_get
    from tests.reliability.conftest import EXTRA_PAGES

    for name, text in EXTRA_PAGES.items():
        (hostile_forum / name).write_text(text)
    service = make_service(log_max_mb=1, log_backups=50)
    started = service.start()
    assert started.success, started
    env = cli_env(MYBB_ROOT=str(hostile_forum), MYBB_PORT=str(service.config.port), MYBB_PHP=php,
                  MYBB_LOG_MAX_MB="1", MYBB_LOG_BACKUPS="50")
    follower = subprocess.Popen([sys.executable, "-m", "mybb_mcp.cli", "logs", "--follow", "--json", "--grep",
                                 "MARKER", "--no-mybb"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)
    reader.start()  # a person's terminal reads as fast as it is written
    try:
        assert follower.stderr is not None and "following" in follower.stderr.readline()
        count, senders = 3000, 4
        markers = [f"f{n:05d}" for n in range(count)]
        errors: list[BaseException] = []

        def send(mine: list[str]) -> None:
            try:
                for n, marker in enumerate(mine):
                    assert http_get(f"{started.url}/marker.php?m={marker}")[0] == 200
                    if n % 25 == 0:  # grow the log: ~64 KiB a time, so it passes 1 MB often
                        assert http_get(f"{started.url}/big.php?m=g{marker}&kb=64")[0] == 200
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(markers[i::senders],)) for i in range(senders)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        rotations = 0
        while any(thread.is_alive() for thread in threads):
            again = service.start()  # running: rotates in place past 1 MB, while the requests go on
            rotations += any("was rotated" in note for note in again.notes)
        for thread in threads:
            thread.join(TIMEOUT)
        rate = count / (time.monotonic() - began)
        assert not errors, errors[:3]
        service.get_status()
        assert rotations >= 3, "the log was never rotated under load"
        http_get(f"{started.url}/marker.php?m=zz-last")
        assert wait_for(lambda: any("zz-last" in line for line in lines), timeout=TIMEOUT)
        seen: dict[str, int] = {}
        for line in list(lines):
            data = json.loads(line)
            if "entries" in data:  # the first answer (the query before following)
                messages = [e["message"] for e in data["entries"]]
            else:
                messages = [data["message"]]
            for message in messages:
                match = re.search(r"MARKER (\S+)", message)
                if match:
                    seen[match.group(1)] = seen.get(match.group(1), 0) + 1
        doubled = sorted(m for m, n in seen.items() if n > 1)
        lost = sorted(set(markers) - set(seen))
        assert not doubled and not lost, (f"{rate:.0f} req/s, {rotations} rotations: "
                                          f"lost {len(lost)} {lost[:5]}, doubled {len(doubled)} {doubled[:5]}")
    finally:
        follower.send_signal(signal.SIGINT)
        try:
            follower.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            follower.kill()
            follower.wait()
        reader.join(TIMEOUT)
        trailer = follower.stderr.read() if follower.stderr else ""
        assert "Traceback" not in trailer, trailer
