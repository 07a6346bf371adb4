"""The service's side of the workbench: the forum's configuration handed to forum/workbench/*, and the
member passwords kept in the forum's credentials file beside the admin's (mode 0600, renamed over)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Config
from ..forum.workbench import members, php_eval, sql, templates
from ..forum.init import read_credentials, write_credentials


def keep_member_password(config: Config, name: str, password: str) -> Path:
    path = config.credentials_file
    values: dict[str, Any] = dict(read_credentials(path) or {})
    kept = values.get("members")
    kept = dict(kept) if isinstance(kept, dict) else {}
    kept[name] = password
    values["members"] = kept
    write_credentials(path, values)
    return path


def kept_member_names(config: Config) -> set[str]:
    values = read_credentials(config.credentials_file) or {}
    names = set(values.get("members") or {}) if isinstance(values.get("members"), dict) else set()
    if isinstance(values.get("admin_user"), str):
        names.add(values["admin_user"])
    return names


def run_sql(config: Config, query: str, limit: int) -> sql.SqlAnswer:
    return sql.run_query(config.mybb_root, query, limit, config.php_settings)


def describe_table(config: Config, table: str) -> sql.TableDescription:
    return sql.describe_table(config.mybb_root, table, config.php_settings)


def add_member(config: Config, name: str, role: str, password: str | None) -> members.MemberAdded:
    return members.add_member(config.mybb_root, lambda n, p: keep_member_password(config, n, p), name, role,
                              password, php=config.php, php_settings=config.php_settings)


def list_members(config: Config) -> members.MemberList:
    return members.list_members(config.mybb_root, config.credentials_file, kept_member_names(config),
                                php=config.php, php_settings=config.php_settings)


def get_template(config: Config, title: str) -> templates.TemplateView:
    return templates.get_template(config.mybb_root, title, php=config.php, php_settings=config.php_settings)


def replace_in_template(config: Config, title: str, find: str, replace: str, sid: int | None,
                        apply: bool) -> templates.TemplateReplace:
    return templates.replace_in_template(config.mybb_root, title, find, replace, sid, apply, php=config.php,
                                         php_settings=config.php_settings)


def eval_php(config: Config, code: str, timeout: float) -> php_eval.PhpEvalResult:
    return php_eval.eval_php(config.mybb_root, code, timeout, php=config.php, php_settings=config.php_settings)
