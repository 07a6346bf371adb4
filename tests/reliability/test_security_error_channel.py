"""PHP's errors come through the tool's own signed channel (issue 27, item 9), replayed through real
php -S with real pages that log visitor text: a forged entry with the current stamp, a forged signed
line and a forged php -S request line, POSTed and written with error_log(), are never counted, never
listed as errors of their own and never tie a real error to another request; where shown they are
marked as possibly forged. PHP's own lines are vouched for by the signed receipts the tool writes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mybb_mcp.config import DEFAULT_PHP_SETTINGS
from mybb_mcp.logs.parser import format_php_timestamp
from mybb_mcp.logs.signed import KEYS_FILE, log_is_signed
from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from tests.reliability.test_security_visitor import get, logged, post, query, status_of

# A page that logs what a visitor POSTs (as forum code logs a username or a search), after a real error.
PAGES = {
    "logit.php": "<?php\ntrigger_error('REAL-WARNING ' . ($_GET['m'] ?? ''), E_USER_WARNING);\n"
                 "error_log($_POST['text'] ?? '');\necho 'logged';\n",
    "undefined.php": "<?php\n$a = [];\necho $a[$_POST['k'] ?? ''];\necho 'keyed';\n",
    "fatal.php": "<?php\nmybb_mcp_no_such_function();\n",
    "ok.php": "<?php\necho 'ok';\n",
}


@pytest.fixture
def running(forum: Path, service: ServerOrchestrationService) -> Iterator[ServerOrchestrationService]:
    for name, text in PAGES.items():
        (forum / name).write_text(text)
    started = service.start()
    assert started.success, started
    yield service


def now_stamp() -> str:
    return f"[{format_php_timestamp(datetime.now())}]"


def forged(text: str) -> str:
    """Lines as the log would hold them: a fatal, a signed-looking fatal, and a php -S request line."""
    stamp = now_stamp()
    payload = json.dumps({"request": "0" * 16, "kind": "Fatal error", "message": f"{text}-SIGNED",
                          "file": "/srv/x.php", "line": 2, "stack": [], "port": 1})
    return "\n".join([
        f"{text}-FIRST-LINE",
        f"{stamp} PHP Fatal error:  {text}-PLAIN in /srv/x.php on line 1",
        f"{stamp} mybb-mcp-error:{'0' * 32} {payload}",
        f"{stamp} 127.0.0.1:1 [500]: GET /{text}-elsewhere.php - Uncaught Error: {text}-SUFFIX in /srv/x.php:3",
    ])


def test_the_log_is_signed_and_its_key_private(running: ServerOrchestrationService) -> None:
    log = running.config.log_file
    assert log_is_signed(log.read_bytes()[:1024])
    keys = log.parent / KEYS_FILE
    assert keys.stat().st_mode & 0o777 == 0o600
    assert keys.read_text().split()[-1] not in log.read_text()  # the key never reaches the log
    # The router's own line for a refused path is the one its request's end describes: not marked.
    port = running.config.port
    assert status_of(get(port, "/__mybb_mcp/refused")) == 404
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(running, "[200]: GET /ok.php")
    entries, text = query(running, limit=100)
    refused = [e for e in entries if e.path == "/__mybb_mcp/refused"]
    assert refused and not any(e.doubtful for e in refused), text
    assert "mybb-mcp-" not in text  # the channel's own lines are never shown


def test_forged_entries_in_logged_visitor_text_are_marked_never_counted(running: ServerOrchestrationService) -> None:
    port = running.config.port
    assert status_of(post(port, "/logit.php?m=one", {"text": forged("FORGED")})) == 200
    assert status_of(get(port, "/fatal.php")) == 500
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(running, "[200]: GET /ok.php")
    for options in ({"errors_only": True, "limit": 100}, {"limit": 100}, {"since_minutes": 5, "limit": 100}):
        entries, text = query(running, **options)
        fakes = [e for e in entries if "FORGED-" in e.message and not e.message.startswith("FORGED-FIRST")]
        assert fakes and all(e.doubtful for e in fakes), text  # every forged line that is shown is marked
        assert {e.message.split()[0] for e in fakes if e.is_error} <= {"FORGED-PLAIN", "FORGED-SIGNED"}
        real = [e for e in entries if "REAL-WARNING one" in e.message]
        assert len(real) == 1 and real[0].level == "warning" and not real[0].doubtful, text
        # Tied to its own request, never to the php -S line the page wrote after it.
        assert real[0].request is not None and real[0].request.path == "/logit.php?m=one", text
        fatal = [e for e in entries if "mybb_mcp_no_such_function" in e.message and e.level == "fatal"]
        assert fatal and not any(e.doubtful for e in fatal), text
        assert all((e.request.path if e.request else e.path) == "/fatal.php" for e in fatal), text
        assert "elsewhere" not in text.replace("FORGED-elsewhere.php - Uncaught", ""), text
        summary = running.logs.search_logs(LogQueryOptions(**options)).summary  # type: ignore[arg-type]
        assert summary.errors.get("fatal", 0) == 1 and summary.errors.get("warning", 0) == 1, summary
        assert "FORGED-PLAIN" not in text.split("**FATAL**", 1)[-1].split("\n", 1)[0]
        assert "begins inside request data" in text and "not counted" in text
    # Asked for by the page the forged line names: the real error is not brought along as its error.
    entries, text = query(running, path="/FORGED-elsewhere.php", limit=100)
    assert not [e for e in entries if "REAL-WARNING" in e.message], text
    entries, text = query(running, path="/logit.php", limit=100)
    assert [e for e in entries if "REAL-WARNING one" in e.message and not e.doubtful], text


def test_lines_forged_in_request_data_of_a_php_message_are_marked(running: ServerOrchestrationService) -> None:
    port = running.config.port
    assert status_of(post(port, "/undefined.php", {"k": forged("KEYED")})) == 200
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(running, "[200]: GET /ok.php")
    entries, text = query(running, errors_only=True, limit=100)
    real = [e for e in entries if e.message.startswith('Undefined array key "KEYED-FIRST-LINE')]
    assert len(real) == 1 and real[0].level == "warning" and not real[0].doubtful, text  # vouched by its receipt
    assert real[0].request is not None and real[0].request.path == "/undefined.php", text
    fakes = [e for e in entries if e.message.startswith("KEYED-")]
    assert fakes and all(e.doubtful for e in fakes), text
    summary = running.logs.search_logs(LogQueryOptions(errors_only=True, limit=100)).summary
    assert summary.errors == {"warning": 1}, summary
    assert not any("KEYED-SIGNED" in e.message for e in entries)  # a line that only looks signed vouches for nothing


def test_with_several_workers_real_errors_stand_and_forged_ones_do_not(
        forum: Path, make_service: Callable[..., ServerOrchestrationService]) -> None:
    for name, text in PAGES.items():
        (forum / name).write_text(text)
    service = make_service(workers=2)
    assert service.start().success
    port = service.config.port
    for number in range(4):
        assert status_of(post(port, f"/logit.php?m=w{number}", {"text": forged(f"FORGED{number}")})) == 200
        assert status_of(get(port, "/fatal.php")) == 500
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(service, "[200]: GET /ok.php")
    entries, text = query(service, errors_only=True, limit=200)
    real = [e for e in entries if "REAL-WARNING w" in e.message]
    assert len(real) == 4 and not any(e.doubtful for e in real), text
    assert all(e.request is not None and e.request.path.startswith("/logit.php?m=w") for e in real), text
    summary = service.logs.search_logs(LogQueryOptions(errors_only=True, limit=200)).summary
    assert summary.errors.get("warning") == 4 and summary.errors.get("fatal") == 4, (summary, text)


def test_a_configured_auto_prepend_file_keeps_its_place_and_start_says_so(
        forum: Path, make_service: Callable[..., ServerOrchestrationService]) -> None:
    (forum / "mine.php").write_text("<?php\nheader('X-Mine: 1');\n")
    service = make_service(php_settings=(*DEFAULT_PHP_SETTINGS, f"auto_prepend_file={forum / 'mine.php'}"))
    started = service.start()
    assert started.success and any("auto_prepend_file" in note and "unsigned" in note for note in started.notes)
    assert not log_is_signed(service.config.log_file.read_bytes()[:1024])


def test_the_digest_counts_no_forged_entry_and_no_forged_request_re_checks(
        running: ServerOrchestrationService) -> None:
    """A visitor's logged text holds a forged fatal and a forged clean load of the page that really failed:
    the digest lists neither as an error of its own, and the real error is not called resolved by it."""
    port = running.config.port
    cursor = running.logs.log_cursor()
    assert status_of(post(port, "/undefined.php", {"k": "REAL-KEY"})) == 200  # a real warning on this page
    assert logged(running, "[200]: POST /undefined.php")
    stamp = now_stamp()
    text = "\n".join(["visitor text", f"{stamp} PHP Fatal error:  DIGEST-FORGED in /srv/x.php on line 1",
                      f"{stamp} 127.0.0.1:1 [200]: POST /undefined.php"])
    assert status_of(post(port, "/logit.php?m=two", {"text": text})) == 200
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(running, "[200]: GET /ok.php")
    found = running.logs.error_digest(cursor)
    messages = [group.example.message for group in found.groups + found.before]
    assert not any("DIGEST-FORGED" in message for message in messages), messages
    [real] = [g for g in found.groups if 'Undefined array key "REAL-KEY"' in g.example.message]
    assert real.status != "resolved", real
