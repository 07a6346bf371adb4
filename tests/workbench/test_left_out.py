"""Which errors of a load with plugins left out that load caused: named by what the message says is missing
and the left-out plugin's own files."""

from __future__ import annotations

from pathlib import Path

from mybb_mcp.logs.digest import ErrorGroup, Fingerprint
from mybb_mcp.logs.parser import LogEntry
from mybb_mcp.workbench.left_out import left_out_plugins, mark_left_out


def group(kind: str, message: str) -> ErrorGroup:
    return ErrorGroup(Fingerprint(kind, message, "index.php(468) : eval()'d code:14"),
                      LogEntry(None, "error", message, is_error=True, level=kind))


def test_errors_are_put_down_to_the_left_out_plugin_only_when_its_files_name_what_is_missing(tmp_path: Path) -> None:
    plugins = tmp_path / "inc" / "plugins"
    (plugins / "banner").mkdir(parents=True)
    (plugins / "banner.php").write_text("<?php\nfunction banner_run() { global $banner_text; $banner_text = 1; }\n")
    (plugins / "banner" / "html.php").write_text("<?php\nfunction banner_html() { return ''; }\nclass BannerBox {}\n")
    (plugins / "other.php").write_text("<?php\n")
    groups = [group("warning", "Undefined variable $banner_text"), group("warning", "Undefined variable $own_var"),
              group("fatal", "Uncaught Error: Call to undefined function banner_html()"),
              group("exception", 'Uncaught Error: Class "BannerBox" not found'),
              group("fatal", "Uncaught Error: Call to undefined function banner_text()")]
    keys = mark_left_out(groups, tmp_path, ["banner"])
    assert [g.left_out_by for g in groups] == ["banner", None, "banner", "banner", None]
    assert keys == [groups[0].key, groups[2].key, groups[3].key]
    assert left_out_plugins(tmp_path, "none") == ["banner", "other"]
    assert left_out_plugins(tmp_path, ("banner", "gone"), ["banner"]) == ["banner"]
    assert mark_left_out(groups, tmp_path, []) == []
