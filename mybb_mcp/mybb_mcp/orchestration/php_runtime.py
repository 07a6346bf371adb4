"""The PHP a forum's server runs: which binary (PATH, MYBB_PHP, or a MYBB_PHP_VERSION build installed on first
use), the `php -S` command line it is started with, and which error kinds that makes visible.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from .. import php_builds
from ..config import Config
from ..errors import InvalidArgument
from ..forum import dev_mode
from ..forum.report import ForumReport
from ..logs import signed as signed_channel
from . import php_dev

ROUTER_SCRIPT = Path(__file__).with_name("router.php")


def resolve_php(config: Config) -> str | None:
    """The PHP binary's path, None when it is not there or not executable."""
    php = config.php
    if os.sep in php:
        return php if os.path.isfile(php) and os.access(php, os.X_OK) else None
    return shutil.which(php)


def ensure_build(config: Config, notes: list[str]) -> php_builds.PhpBuildError | None:
    """MYBB_PHP_VERSION's build, installed into the cache on first use (fetched, SHA-256 checked)."""
    if config.php_version is None:
        return None
    build = php_builds.build_for(config.php_version)
    cache = config.build_cache
    there = php_builds.is_installed(build, cache)
    try:
        binary = php_builds.install(build, cache)  # also when there: the cache is checked to be ours
    except php_builds.PhpBuildError as exc:
        return exc
    if not there:
        notes.append(f"Installed PHP {build.php_version} ({build.spec}, SHA-256 checked) into {binary.parent}.")
    return None


def with_release(config: Config, version: str) -> Config:
    """`init --php 7.4`: the configuration that runs the forum on that build (init records it for the next
    configurations). Refused when MYBB_PHP or MYBB_PHP_VERSION names another PHP."""
    build = php_builds.build_for(version)
    named = config.sources.get("MYBB_PHP_VERSION", "")
    if "MYBB_PHP" in config.sources or (config.php_version not in (None, build.version)
                                        and not named.endswith("(init --php)")):
        setting = "MYBB_PHP" if "MYBB_PHP" in config.sources else "MYBB_PHP_VERSION"
        raise InvalidArgument(f"--php {version} and {setting} ({config.sources[setting]}) name two PHPs for "
                              "this forum.", f"Unset {setting}, or drop --php.")
    cache = config.build_cache
    return replace(config, php=str(php_builds.binary_path(build, cache)), php_version=build.version,
                   cache_dir=cache, sources={**config.sources, "MYBB_PHP_VERSION": "init --php"})


def build_name(config: Config) -> str | None:
    """"PHP 7.4.33 from @libphp/…" when MYBB_PHP_VERSION names the PHP the forum runs on."""
    if config.php_version is None:
        return None
    build = php_builds.build_for(config.php_version)
    return f"PHP {build.php_version} from {build.spec}"


def describe(config: Config, php: str | None) -> str:
    """"8.2.29 (php on PATH)", "7.4.33 (PHP 7.4.33 from @libphp/…, MYBB_PHP_VERSION)", or why not known."""
    build = build_name(config)
    if php is None:
        return (f"{build}, not installed yet (start installs it)" if build
                else f"{config.php!r} not found")
    runtime = php_dev.probe_php(php, config.php_settings)
    where = f"{build}, MYBB_PHP_VERSION" if build else php
    return f"{runtime.version} ({where})" if runtime.version else f"unknown ({where}: {runtime.problem})"


def names_own_prepend(config: Config) -> bool:
    """The configuration's php.ini settings name their own auto_prepend_file (then no signed error channel)."""
    return any(s.split("=", 1)[0].strip() == "auto_prepend_file" for s in config.php_settings)


def server_argv(config: Config, php: str, host: str, port: int, signed: bool = False) -> list[str]:
    """`php -d … -S host:port -t root [router.php]`: development mode's flags, the signed error channel, then
    the configuration's own settings, which win."""
    argv = [php]
    prepend = [f"auto_prepend_file={signed_channel.PREPEND}"] if signed else []
    dev = php_dev.xdebug_settings(php_dev.probe_php(php, config.php_settings)) if config.dev_ini else []
    for setting in [*dev, *prepend, *config.php_settings]:
        argv += ["-d", setting]
    bind = f"[{host}]" if ":" in host and not host.startswith("[") else host
    argv += ["-S", f"{bind}:{port}", "-t", str(config.mybb_root)]
    if config.use_router:
        argv.append(str(ROUTER_SCRIPT))
    return argv


def visibility(config: Config, argv: list[str] | None, forum: ForumReport) -> dev_mode.Visibility:
    """Which error kinds the server (running with `argv`, or as it would start) puts in the log."""
    php = resolve_php(config)
    runtime = php_dev.probe_php(php, config.php_settings) if php else None
    channel_setting = f"auto_prepend_file={signed_channel.PREPEND}"
    if argv is None:  # not running: as it would start (the channel on unless the configuration prepends its own)
        argv = server_argv(config, php, config.host, config.port, signed=not names_own_prepend(config)) if php else []
    settings = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-d"]
    state = forum.error_logging
    return dev_mode.error_visibility(
        server_argv=settings,
        xdebug_installed=bool(runtime and runtime.has_xdebug),
        logging_enabled=None if state is None else state.enabled,
        fresh_code=php_dev.fresh_code_explanation(settings, runtime),
        switched_on_by_tool=bool(state and state.enabled)
        and dev_mode.switched_on_by_tool(config.repo_root, config.mybb_root, config.files.errorlog_memory.name),
        dev_ini=config.dev_ini,
        php_build=build_name(config),
        channel=channel_setting in settings,
    )
