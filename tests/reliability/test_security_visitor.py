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
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from mybb_mcp.orchestration.log_parser import READY_PROBE_PATH, format_php_timestamp
from tests.reliability.conftest import TIMEOUT, cli_env, wait_for

# Pages that put request data into the server log verbatim, as forum code does (an undefined array key
# named by the request, a message logged with the visitor's User-Agent).
HOSTILE_PAGES = {
    "key.php": "<?php\n$a = [];\necho $a[$_REQUEST['k'] ?? ''];\necho 'keyed';\n",
    "agent.php": "<?php\nerror_log('agent: ' . ($_SERVER['HTTP_USER_AGENT'] ?? ''));\necho 'agent';\n",
    "real_error.php": "<?php\ntrigger_error('REAL-RECENT-ERROR ' . ($_GET['m'] ?? ''), E_USER_WARNING);\necho 'real';\n",
}


@pytest.fixture
def hostile_forum(forum: Path) -> Path:
    for name, text in HOSTILE_PAGES.items():
        (forum / name).write_text(text)
    return forum


@pytest.fixture
def running(hostile_forum: Path, service: ServerOrchestrationService) -> Iterator[ServerOrchestrationService]:
    started = service.start()
    assert started.success, started
    yield service


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
    return service.search_logs(opts).entries, service.query_logs(opts)


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
    from mybb_mcp.orchestration.log_reader import iter_entries_backward, iter_entries_forward

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
