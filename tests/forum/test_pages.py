"""What a MyBB page says, on the shapes MyBB 1.8's own templates and error handler produce (transcribed
from install/resources/mybb_theme.xml, inc/class_error.php and admin/inc/class_page.php), and one log
entry per line for monitors."""

from __future__ import annotations

from datetime import timezone

import pytest

from mybb_mcp.answers.cursor import render_entry_line
from mybb_mcp.answers.text import code, redact
from mybb_mcp.forum import pages
from mybb_mcp.logs.parser import parse_entry

ERROR_TABLE = """<table border="0" cellspacing="0" cellpadding="5" class="tborder">
<tr>
<td class="thead"><span class="smalltext"><strong>Board</strong></span></td>
</tr>
<tr>
<td class="trow1">{body}</td>
</tr>
</table>"""

SQL_PAGE = """<head><title>Board - Internal Error</title></head><body><div id="content">
			<h2>MyBB SQL Error</h2>
			<div id="error">
				<p>MyBB has experienced an internal SQL error and cannot continue.</p><dl>
<dt>SQL Error:</dt>
<dd>1 - no such table: mybb_nothing</dd>
</dl>
				<p id="footer"><p><strong>If you're a visitor</strong></p></p>
			</div></div></body>"""


@pytest.mark.parametrize("comments", [True, False])
def test_error_and_no_permission_templates_with_or_without_template_comments(comments: bool) -> None:
    start = "<!-- start: error -->" if comments else ""
    body = ERROR_TABLE.format(body="The specified thread does not exist.")
    found = pages.detect_error(f"<html>{start}<title>Board</title>{body}</html>", admin_cp=False)
    assert found == pages.PageError("error", "The specified thread does not exist.")
    nope = ERROR_TABLE.format(body=("<!-- start: error_nopermission -->" if comments else "")
                              + "You are either not logged in or do not have permission to view this page.\n<ol>"
                              "<li>You are not logged in</li></ol>")
    found = pages.detect_error(f"<html>{start}{nope}</html>", admin_cp=False)
    assert found is not None and found.kind == "no_permission"
    assert found.message == "You are either not logged in or do not have permission to view this page."


def test_sql_error_page_and_the_admin_cp() -> None:
    found = pages.detect_error(SQL_PAGE, admin_cp=False)
    assert found is not None and found.kind == "sql" and "no such table: mybb_nothing" in found.message
    login = '<form method="post" action="index.php"><input type="hidden" name="do" value="login" /></form>'
    assert pages.detect_error(login, admin_cp=True).kind == "acp_login"  # type: ignore[union-attr]
    key = '<div class="error">\nAn authorization code mismatch occurred. Please confirm.\n</div>'
    assert pages.detect_error(key, admin_cp=True).kind == "post_key"  # type: ignore[union-attr]
    flash = '<div id="flash_message" class="success">\nThe plugin has been activated.\n</div>'
    assert pages.detect_error(flash, admin_cp=True) is None
    assert pages.flash_message(flash) == "The plugin has been activated."


def test_post_key_login_state_and_a_clean_page() -> None:
    page = ('<script>var my_post_key = "0123456789abcdef0123456789abcdef";</script><div id="panel">'
            '<a href="member.php?action=logout&amp;logoutkey=abc">Log Out</a></div>')
    assert pages.find_post_key(page) == "0123456789abcdef0123456789abcdef"
    assert pages.front_logged_in(page) and pages.is_front_page(page)
    assert pages.detect_error(page, admin_cp=False) is None


def test_page_text_is_plain_text_without_markup_or_terminal_control() -> None:
    html = ("<html><body><!-- end: header --><h1>Hi &amp; <b>bye</b></h1><script>evil()</script>"
            "<p>\x1b[31mred\u202e</p><!-- start: footer -->footer</body></html>")
    text, cut = pages.excerpt(html, 100)
    assert text == "Hi & bye\n[31mred" and not cut
    assert pages.count_selector('<div id="a" class="x y"></div><div class="y"></div>', "div.y") == 2
    assert pages.count_selector('<div id="a" class="x y"></div>', "#a.x") == 1
    assert pages.parse_selector("div > p") is None


def test_shown_text_is_code_and_session_secrets_are_redacted() -> None:
    assert code("a `tick` here") == "``a `tick` here``"
    assert code("`x`") == "`` `x` ``"
    assert code("**bold** <b>x</b>\x1b[2J") == "`**bold** <b>x</b>[2J`"
    assert redact("/admin/index.php?action=x&my_post_key=0123456789abcdef0123456789abcdef") == (
        "/admin/index.php?action=x&my_post_key=…")


def test_one_entry_is_one_line() -> None:
    entry = parse_entry(
        "[Sun Nov 29 02:38:00 2026] PHP Fatal error:  Uncaught RuntimeException: boom in /f/p.php:12\n"
        "Stack trace:\n#0 /f/index.php(18): run()\n#1 {main}\n  thrown in /f/p.php on line 12",
        tz=timezone.utc)
    line = render_entry_line(entry, timezone.utc)
    assert "\n" not in line
    assert line.startswith("2026-11-29 02:38:00 EXCEPTION Uncaught RuntimeException: boom")
    assert "⏎ Stack trace: ⏎ #0 /f/index.php(18): run()" in line


def test_a_stop_is_a_page_never_finished_or_bare_text_not_an_ajax_fragment() -> None:
    assert pages.detect_stop("<html><head></head><body>Half a page. The plugin gave up.", 200).kind == "stopped"
    assert pages.detect_stop("The plugin gave up.", 200).message == "The plugin gave up."
    assert pages.detect_stop("/f/inc/languages/english/x.lang.php does not exist", 200).kind == "language_stop"
    assert pages.detect_stop('<div class="quick_edit">a fragment</div>', 200) is None
    assert pages.detect_stop("<html><body>whole</body></html>", 200) is None
    assert pages.detect_stop("The plugin gave up.", 500) is None  # PHP's failure: told by its errors


def test_a_pages_form_is_read_as_a_browser_sends_it() -> None:
    from mybb_mcp.forum.pages import page_form

    page = """<form action="newthread.php?fid=2&amp;processed=1" method="post" enctype="multipart/form-data">
<input type="hidden" name="my_post_key" value="k" /><input type="text" name="subject" value="" />
<textarea name="message">hi</textarea><input type="checkbox" name="sig" value="1" checked="checked" />
<input type="checkbox" name="off" value="1" /><select name="icon"><option value="0">-</option>
<option value="3" selected="selected">3</option></select><input type="file" name="attachments[]" />
<input type="submit" name="newattachment" value="Add" /><input type="submit" name="submit" value="Post" />
<input type="submit" name="previewpost" value="Preview" /></form>
<form action="index.php?module=x" method="post"><input type="submit" value="Yes" />
<input type="submit" name="no" value="No" /></form>"""
    form = page_form(page, "/newthread.php")
    assert form is not None and form.multipart and form.files == ["attachments[]"]
    assert form.fields == [("my_post_key", "k"), ("subject", ""), ("message", "hi"), ("sig", "1"), ("icon", "3"),
                           ("submit", "Post")]
    acp = page_form(page, "/admin/index.php")
    assert acp is not None and acp.fields == []  # the unnamed Yes is clicked; never the "no" button
