"""Block readers against the simple reference, the zone header, and rotation."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mybb_mcp.logs import bounds as log_bounds
from mybb_mcp.logs import finders, timeline
from mybb_mcp.logs import reader as log_reader
from mybb_mcp.logs.parser import ERROR_HINTS, parse_entry
from mybb_mcp.logs.reader import ReadStats, iter_entries_backward, iter_entries_forward
from mybb_mcp.logs.rotation import rotate_in_place, rotate_logs
from mybb_mcp.logs.timeline import offset_at_time
from mybb_mcp.logs.zone import format_zone_header, local_zone_key, read_log_zone
from tests.logs.reference_reader import LogGenerator, reference_entries, write_log

DATA = Path(__file__).parent / "data"
# Tiny blocks force entries (and keyword hits) across block boundaries; None = the defaults.
BLOCKS = [(5, 40), (37, 64), (256, 4096), (None, None)]
KEYWORDS = [b"marker", b"marker_6", b"gone 1", b"thrown in", b"caf%c3", b"k3", b"no-such-text", b"s"]


def back(path: Path, block: tuple[int | None, int | None], **kwargs: object) -> list[tuple[int, bytes]]:
    return list(iter_entries_backward(path, block_size=block[0], max_block_size=block[1], **kwargs))  # type: ignore[arg-type]


def fwd(path: Path, block: tuple[int | None, int | None], **kwargs: object) -> list[tuple[int, bytes]]:
    return list(iter_entries_forward(path, block_size=block[0], max_block_size=block[1], **kwargs))  # type: ignore[arg-type]


@pytest.fixture(params=[(1, False), (2, True), (3, False)], ids=["single", "workers", "single-2"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    seed, workers = request.param
    path = write_log(tmp_path / "server.log", 250, seed=seed, workers=workers, marker_every=3)
    with open(path, "ab") as handle:  # text before the first stamp is covered by the corpus tests
        handle.write(b"[Tue Nov 24 23:59:59 2026] half a line being writ")
    return path


@pytest.mark.parametrize("block", BLOCKS)
def test_all_entries_backward_and_forward(log: Path, block: tuple[int | None, int | None]) -> None:
    reference = reference_entries(log)
    assert back(log, block) == reference[::-1]
    assert fwd(log, block) == reference
    # Entries tile the file exactly up to the last newline (the partial last line is left out).
    data = log.read_bytes()
    assert b"".join(raw for _, raw in reference) == data[: data.rfind(b"\n") + 1]


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("mode", ["anchored", "lowered"])
def test_keyword_returns_whole_entries(
    log: Path, block: tuple[int | None, int | None], mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both search strategies: anchor-byte + verify, and lower-the-block + find.
    monkeypatch.setattr(finders._Finder, "DENSE", float("inf") if mode == "anchored" else -1.0)
    monkeypatch.setattr(finders, "SAMPLE_SIZE", 200)  # decide on little, re-plan often
    reference = reference_entries(log)
    for keyword in KEYWORDS:
        expected = [e for e in reference if keyword in e[1].lower()]
        assert back(log, block, keyword=keyword) == expected[::-1], keyword
        assert fwd(log, block, keyword=keyword) == expected, keyword


def test_keyword_on_a_continuation_line_returns_the_head_too(log: Path) -> None:
    found = back(log, (64, 64), keyword=b"marker_3")
    assert found
    for _, raw in found:
        head, rest = raw.split(b"\n", 1)
        assert b"marker" not in head.lower() and b"marker_3" in rest.lower()
        assert b"Uncaught" in head


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("dense", [0.0, 1 / 200, float("inf")])
def test_any_of_and_both_filters(
    log: Path, block: tuple[int | None, int | None], dense: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finders._Finder, "DENSE", dense)  # all by regex, the real mix, all anchored
    reference = reference_entries(log)
    errors = [e for e in reference if any(hint in e[1] for hint in ERROR_HINTS)]
    assert back(log, block, any_of=ERROR_HINTS) == errors[::-1]
    assert fwd(log, block, any_of=ERROR_HINTS) == errors
    both = [e for e in errors if b"gone" in e[1].lower()]
    assert back(log, block, any_of=ERROR_HINTS, keyword=b"GONE".lower()) == both[::-1]


def test_ranges(log: Path) -> None:
    reference = reference_entries(log)
    middle = reference[40][0]
    end = reference[200][0]
    assert back(log, (50, 100), start=middle, end=end) == reference[40:200][::-1]
    assert fwd(log, (50, 100), start=middle, end=end) == reference[40:200]
    stats = ReadStats()
    assert list(iter_entries_backward(log, start=end, end=end, stats=stats)) == [] and stats.bytes_read == 0


def test_tail_reads_little_of_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_text(LogGenerator(seed=9).text(3000) * 20)
    assert path.stat().st_size > 5_000_000
    stats = ReadStats()
    newest = []
    for item in iter_entries_backward(path, stats=stats):
        newest.append(item)
        if len(newest) == 50:
            break
    assert stats.bytes_read <= 64 * 1024 + 1 and not stats.exhausted
    assert newest == reference_entries(path)[-50:][::-1]


def test_a_file_appended_to_while_read(tmp_path: Path) -> None:
    path = write_log(tmp_path / "server.log", 400, seed=4, workers=True)
    before = reference_entries(path)
    more = LogGenerator(seed=99, start=datetime(2026, 11, 25)).text(50).encode()

    backward = iter_entries_backward(path, block_size=512, max_block_size=512)
    forward = iter_entries_forward(path, block_size=512, max_block_size=512)
    got_back = [next(backward) for _ in range(5)]
    got_fwd = [next(forward) for _ in range(5)]
    with open(path, "ab") as handle:  # O_APPEND, as php -S writes
        handle.write(more)
    got_back += list(backward)
    got_fwd += list(forward)
    # Both read exactly what was there when they began: nothing torn, nothing new half-seen.
    assert got_back == before[::-1]
    assert got_fwd == before
    assert back(path, (None, None))[: len(reference_entries(path)) - len(before)] != []


def test_a_partial_last_line_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_bytes(b"[Tue Nov 24 05:51:39 2026] 127.0.0.1:1 Accepted\n"
                     b"[Tue Nov 24 05:51:39 2026] 127.0.0.1:1 [200]: GE")
    assert [raw for _, raw in iter_entries_backward(path)] == [b"[Tue Nov 24 05:51:39 2026] 127.0.0.1:1 Accepted\n"]
    with open(path, "ab") as handle:
        handle.write(b"T /\n")
    assert len(list(iter_entries_forward(path))) == 2


def test_orphan_text_before_the_first_stamp(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_bytes(b"Directory /x does not exist.\nmore\n"
                     b"[Tue Nov 24 05:51:39 2026] PHP 8.2 Development Server (http://a:1) started\n")
    for block in BLOCKS:
        entries = back(path, block)
        assert [offset for offset, _ in entries] == [34, 0]
        assert entries[1][1] == b"Directory /x does not exist.\nmore\n"
        assert fwd(path, block) == entries[::-1]


def test_a_huge_entry_is_kept_as_head_and_tail_with_the_cut_counted(tmp_path: Path) -> None:
    trace = b"".join(b"#%d /srv/forum/deep.php(1): f()\n" % i for i in range(100_000))  # ~3.3 MB
    head = b"[Tue Nov 24 05:51:39 2026] PHP Fatal error:  Uncaught E: x in /f.php:1\n"
    tail = b"[Tue Nov 24 05:51:40 2026] 127.0.0.1:1 Closing\n"
    path = tmp_path / "server.log"
    path.write_bytes(head + trace + tail)
    for reader in (back, fwd):
        for block in ((4096, 4096), (64 * 1024, 4 * 1024 * 1024)):
            entries = sorted(reader(path, block))
            assert [offset for offset, _ in entries] == [0, len(head) + len(trace)]
            big = entries[0][1]
            assert len(big) <= log_bounds.MAX_ENTRY_BYTES
            assert big.startswith(head + b"#0 ") and big.endswith(b"#99999 /srv/forum/deep.php(1): f()\n")
            # Whole lines either side of the cut, and the cut counted exactly.
            assert big.cut_bytes + len(big) == len(head) + len(trace)
            assert big.cut_lines + big.count(b"\n") == 100_001
            assert big[big.cut_at - 1 : big.cut_at + 1] == b"\n#"
        # A keyword only in the dropped middle still selects the entry.
        assert [o for o, _ in reader(path, (4096, 4096), keyword=b"#50000 ")] == [0]


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_entries_backward(tmp_path / "none.log"))


# --- finding a time ---------------------------------------------------------------------------------------


def test_offset_at_time_bisects_to_the_window(tmp_path: Path) -> None:
    path = write_log(tmp_path / "server.log", 5000, seed=6)
    zone = ZoneInfo("UTC")
    entries = [(offset, parse_entry(raw.decode(), tz=zone).timestamp) for offset, raw in reference_entries(path)]
    for index in (0, 10, 2500, 4990, len(entries) - 1):
        cutoff = entries[index][1]
        assert cutoff is not None
        offset = offset_at_time(path, cutoff, zone)
        before = [ts for off, ts in entries if off < offset]
        assert all(ts < cutoff for ts in before)  # nothing in the window is skipped
        # ... and it lands close: within the slack and a block of the first in-window entry.
        first_in = next(off for off, ts in entries if ts >= cutoff)
        lead = [ts for off, ts in entries if offset <= off < first_in]
        assert all(ts >= cutoff - timeline.TIME_SLACK - timedelta(seconds=10) for ts in lead) or (
            first_in - offset <= 2 * log_reader.BLOCK_SIZE
        )
    after_the_last = offset_at_time(path, entries[-1][1] + timedelta(hours=1), zone)
    assert after_the_last > path.stat().st_size - 2 * log_reader.BLOCK_SIZE


# --- the zone header --------------------------------------------------------------------------------------


def test_zone_header_round_trip(tmp_path: Path) -> None:
    zone = ZoneInfo("America/New_York")
    now = datetime(2026, 11, 25, 7, 27, 2, tzinfo=zone)
    header = format_zone_header(now)
    assert header == ("[Wed Nov 25 07:27:02 2026] mybb-mcp: log opened; timestamps are local time, "
                      "zone America/New_York (UTC-05:00)")
    path = tmp_path / "server.log"
    path.write_text(header + "\n[Wed Nov 25 07:27:03 2026] PHP 8.2.36 Development Server (http://x:1) started\n")
    assert read_log_zone(path) == zone
    entry = parse_entry(header)
    assert entry.event_type == "startup" and entry.timestamp == datetime(2026, 11, 25, 7, 27, 2)


def test_zone_header_without_key_or_with_an_unknown_one(tmp_path: Path) -> None:
    fixed = timezone(timedelta(hours=5, minutes=30))
    header = format_zone_header(datetime(2026, 12, 4, 9, 5, 7, tzinfo=fixed))
    assert header.startswith("[Fri Dec  4 09:05:07 2026] ") and header.endswith("zone UTC+05:30")
    path = tmp_path / "server.log"
    path.write_text(header + "\n")
    assert read_log_zone(path).utcoffset(None) == timedelta(hours=5, minutes=30)
    path.write_text(header.replace("zone UTC+05:30", "zone Mars/Olympus (UTC-03:00)") + "\n")
    assert read_log_zone(path).utcoffset(None) == timedelta(hours=-3)


def test_no_header_means_the_local_zone_now(tmp_path: Path) -> None:
    path = DATA / "00_install_server.log"
    assert read_log_zone(path).utcoffset(None) == datetime.now().astimezone().utcoffset()
    assert read_log_zone(tmp_path / "missing.log").utcoffset(None) == datetime.now().astimezone().utcoffset()


def test_local_zone_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":Asia/Tokyo")
    assert local_zone_key() == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "/usr/share/zoneinfo/Europe/Paris")
    assert local_zone_key() == "Europe/Paris"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_zone_key() is None
    monkeypatch.delenv("TZ")
    key = local_zone_key()
    assert key is None or ZoneInfo(key) is not None


# --- rotation ---------------------------------------------------------------------------------------------


def test_rotate_logs_keeps_n_backups_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    assert rotate_logs(path, 3) is False
    for generation in range(5):
        path.write_text(f"log {generation}\n")
        os.chmod(path, 0o640)
        assert rotate_logs(path, 3) is True
        assert not path.exists()
    kept = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert kept == {"server.log.1": "log 4\n", "server.log.2": "log 3\n", "server.log.3": "log 2\n"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o640 for p in tmp_path.iterdir())
    path.write_text("x")
    assert rotate_logs(path, 0) is True and not path.exists()


class _Writer:
    """A thread appending numbered lines with O_APPEND; `paused()` holds it between writes."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.lock = threading.Lock()
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                os.write(self.fd, b"[Tue Nov 24 05:51:39 2026] line %08d\n" % self.count)
                self.count += 1

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self.lock:
            yield


def test_rotate_in_place_loses_and_doubles_nothing(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(format_zone_header(datetime.now(ZoneInfo("Asia/Tokyo"))) + "\n")
    os.chmod(path, 0o640)
    writer = _Writer(path)
    writer.thread.start()
    try:
        while writer.count < 20_000:
            pass
        first = rotate_in_place(path, 2, writer.paused)
        while writer.count < 40_000:
            pass
        second = rotate_in_place(path, 2, writer.paused)
        while writer.count < 45_000:
            pass
    finally:
        writer.stop.set()
        writer.thread.join()
        os.close(writer.fd)
    assert first.rotated and second.rotated and second.backup == tmp_path / "server.log.1"
    lines = []
    for name in ("server.log.2", "server.log.1", "server.log"):
        lines += (tmp_path / name).read_text().splitlines()
    numbers = [int(line.rsplit(" ", 1)[1]) for line in lines if " line " in line]
    assert numbers == list(range(writer.count))
    # The zone header survives rotation, so later queries still know the zone.
    assert read_log_zone(path) == ZoneInfo("Asia/Tokyo")
    assert sum("mybb-mcp: log opened" in line for line in lines) == 3
    assert all(stat.S_IMODE((tmp_path / n).stat().st_mode) == 0o640 for n in ("server.log.1", "server.log.2"))
    assert second.bytes_copied == (tmp_path / "server.log.1").stat().st_size


def test_rotate_in_place_missing_and_zero_backups(tmp_path: Path) -> None:
    @contextmanager
    def nothing() -> Iterator[None]:
        yield

    assert not rotate_in_place(tmp_path / "none.log", 3, nothing).rotated
    path = tmp_path / "server.log"
    path.write_text("old\n")
    assert rotate_in_place(path, 0, nothing, header=None).rotated
    assert path.read_text() == "" and list(tmp_path.iterdir()) == [path]


def test_rotate_in_place_keeps_an_unfinished_long_line_whole_in_the_new_log(tmp_path: Path) -> None:
    # PHP writes a line over 8 KiB in pieces; a pause between two leaves the log ending mid-line.
    path = tmp_path / "server.log"
    header = "[Wed Nov 25 07:27:02 2026] mybb-mcp: log opened; timestamps are local time, zone UTC+00:00"
    first_piece = "[Wed Nov 25 07:27:03 2026] BIGLINE " + "x" * 8192
    path.write_text(header + "\n[Wed Nov 25 07:27:03 2026] whole line\n" + first_piece)

    @contextmanager
    def nothing() -> Iterator[None]:
        yield

    rotation = rotate_in_place(path, 2, nothing)
    backup = path.with_name("server.log.1").read_text()
    assert backup.endswith("whole line\n") and "BIGLINE" not in backup
    with open(path, "a") as php:  # the rest of the line, as PHP writes it after the pause
        php.write(" END\n")
    fresh = path.read_text().splitlines()
    assert fresh[0].endswith("log opened; timestamps are local time, zone UTC+00:00")
    assert fresh[1] == first_piece + " END"
    assert rotation.bytes_copied == len(backup)


@pytest.mark.parametrize("keyword", ["strasse", "K marker", "fine", "STRAẞE", "ärger"])
@pytest.mark.parametrize("block", [64, 4096, 1 << 20])
def test_ascii_fast_path_and_full_folding_agree_line_by_line(tmp_path: Path, keyword: str, block: int) -> None:
    """Lines that need full folding (a character folding into ASCII) sit beside plain ASCII lines in one
    block: every line holding the keyword under full case folding is found, and no other."""
    import random

    rng = random.Random(7)
    words = ["Straße", "STRASSE", "strasse", "\u212a marker", "k MARKER", "\ufb01ne", "FINE", "ÄRGER", "plain",
             "ſtraſſe", "café"]
    path = tmp_path / "server.log"
    lines = [f"[Mon Nov 24 05:00:{n % 60:02d} 2026] PHP Warning:  {rng.choice(words)} {rng.choice(words)} #{n}\n"
             for n in range(400)]
    path.write_text("".join(lines), encoding="utf-8")
    found = [raw.decode() for _, raw in iter_entries_forward(path, keyword=keyword.encode(), block_size=block)]
    assert found == [line for line in lines if keyword.casefold() in line.casefold()]
    assert found  # the keyword is there
