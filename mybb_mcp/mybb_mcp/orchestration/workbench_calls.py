"""`service.workbench`: plugins, SQL, members, templates, PHP inside the forum and the versions matrix. The
work is done in `mybb_mcp.workbench`, with MyBB's own code; this side hands it the forum's configuration and
keeps the members' passwords in the forum's credentials file beside the admin's (mode 0600, renamed over).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import php_builds
from ..config import Config
from ..forum.credentials import read_credentials, write_credentials
from ..workbench import matrix as matrix_module
from ..workbench import members, php_eval, templates
from ..workbench import plugins as plugin_workbench
from ..workbench import sql as read_only_sql

if TYPE_CHECKING:
    from .observe import ForumSite


def keep_member_password(config: Config, name: str, password: str) -> Path:
    path = config.credentials_file
    values = dict(read_credentials(path) or {})
    kept = values.get("members")
    members_kept = {str(k): v for k, v in kept.items()} if isinstance(kept, dict) else {}
    members_kept[name] = password
    values["members"] = members_kept
    write_credentials(path, values)
    return path


def kept_member_names(config: Config) -> set[str]:
    values = read_credentials(config.credentials_file) or {}
    kept = values.get("members")
    names = {str(name) for name in kept} if isinstance(kept, dict) else set()
    admin = values.get("admin_user")
    if isinstance(admin, str):
        names.add(admin)
    return names


class WorkbenchService:
    """The workbench tools on one forum. `cell_service` makes the service a matrix cell's throwaway copy runs
    under (the composed service's own class)."""

    def __init__(self, site: ForumSite, cell_service: Callable[[Config], matrix_module.CellService]) -> None:
        self.site = site
        self.cell_service = cell_service

    @property
    def config(self) -> Config:
        return self.site.config

    def sql(self, query: str, limit: int) -> read_only_sql.SqlAnswer:
        return read_only_sql.run_query(self.config.mybb_root, query, limit, self.config.php_settings)

    def describe_table(self, table: str) -> read_only_sql.TableDescription:
        return read_only_sql.describe_table(self.config.mybb_root, table, self.config.php_settings)

    def add_member(self, name: str, role: str, password: str | None) -> members.MemberAdded:
        config = self.config
        return members.add_member(config.mybb_root, lambda n, p: keep_member_password(config, n, p), name, role,
                                  password, php=self.site.php(), php_settings=config.php_settings)

    def list_members(self) -> members.MemberList:
        config = self.config
        return members.list_members(config.mybb_root, config.credentials_file, kept_member_names(config),
                                    php=self.site.php(), php_settings=config.php_settings)

    def get_template(self, title: str) -> templates.TemplateView:
        return templates.get_template(self.config.mybb_root, title, php=self.site.php(),
                                      php_settings=self.config.php_settings)

    def replace_in_template(self, title: str, find: str, replace: str, sid: int | None,
                            apply: bool) -> templates.TemplateReplace:
        return templates.replace_in_template(self.config.mybb_root, title, find, replace, sid, apply,
                                             php=self.site.php(), php_settings=self.config.php_settings)

    def eval_php(self, code: str, timeout: float) -> php_eval.PhpEvalResult:
        return php_eval.eval_php(self.config.mybb_root, code, timeout, php=self.site.php(),
                                 php_settings=self.config.php_settings)

    def plugins(self, action: str, name: str | None = None) -> plugin_workbench.PluginsResult:
        """List, install, activate, deactivate, uninstall or check a plugin, with MyBB's own code (see
        workbench/plugins.py). Raises InvalidArgument for a bad action or name (nothing is run)."""
        action, name = plugin_workbench.validate(action, name)
        problem = self.site.forum_problem()
        if problem is not None or not (self.config.mybb_root / "inc" / "config.php").is_file():
            return plugin_workbench.PluginsResult(
                action, name, False, f"No installed MyBB forum: {problem or 'inc/config.php is missing'}.",
                hint="Set MYBB_ROOT to a MyBB forum (or make one with `mybb-server init`).")
        try:
            php = self.site.php()
        except php_builds.PhpBuildError as exc:
            return plugin_workbench.PluginsResult(action, name, False, exc.message, hint=exc.hint)
        return plugin_workbench.run(self.config.mybb_root, action, name, php=php,
                                    php_settings=tuple(self.config.php_settings))

    def matrix(self, request: matrix_module.MatrixRequest, progress: matrix_module.Progress | None = None,
               cancel: threading.Event | None = None) -> matrix_module.MatrixResult:
        """The plugin on each PHP x MyBB cell, in throwaway copies (workbench/matrix.py)."""
        return matrix_module.MatrixRunner(self.config, self.cell_service, progress, cancel).run(request)
