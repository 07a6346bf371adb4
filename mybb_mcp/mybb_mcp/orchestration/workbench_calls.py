"""The service's workbench calls: plugins, SQL, members, templates and PHP inside the forum (the work
is done in `forum/workbench/`, with MyBB's own code).
"""

from __future__ import annotations

from typing import Any

from ..forum.workbench import plugins as plugin_workbench
from . import workbench


class WorkbenchCalls:
    """The workbench tools, called through the one service.

    Mixed into `ServerOrchestrationService`, whose config and forum checks it uses."""

    # --- the workbench (orchestration/workbench.py: sql, members, templates, php inside the forum) ---------

    def sql(self, query: str, limit: int) -> Any:
        return workbench.run_sql(self.config, query, limit)

    def describe_table(self, table: str) -> Any:
        return workbench.describe_table(self.config, table)

    def add_member(self, name: str, role: str, password: str | None) -> Any:
        return workbench.add_member(self.config, name, role, password)

    def list_members(self) -> Any:
        return workbench.list_members(self.config)

    def get_template(self, title: str) -> Any:
        return workbench.get_template(self.config, title)

    def replace_in_template(self, title: str, find: str, replace: str, sid: int | None, apply: bool) -> Any:
        return workbench.replace_in_template(self.config, title, find, replace, sid, apply)

    def eval_php(self, code: str, timeout: float) -> Any:
        return workbench.eval_php(self.config, code, timeout)

    # ------------------------------------------------------------------ the plugin workbench

    def plugins(self, action: str, name: str | None = None) -> plugin_workbench.PluginsResult:
        """List, install, activate, deactivate, uninstall or check a plugin, with MyBB's own code (see
        forum/workbench/plugins.py). Raises InvalidArgument for a bad action or name (nothing is run)."""
        action, name = plugin_workbench.validate(action, name)
        problem = self._forum_problem()
        if problem is not None or not (self.config.mybb_root / "inc" / "config.php").is_file():
            return plugin_workbench.PluginsResult(
                action, name, False, f"No installed MyBB forum: {problem or 'inc/config.php is missing'}.",
                hint="Set MYBB_ROOT to a MyBB forum (or make one with `mybb-server init`).")
        php = self._resolve_php() or self.config.php
        return plugin_workbench.run(self.config.mybb_root, action, name, php=php,
                                    php_settings=tuple(self.config.php_settings))

