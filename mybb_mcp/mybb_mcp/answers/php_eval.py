"""Markdown for a PHP snippet's run: return value, output, errors, each bounded; or why it was stopped."""

from __future__ import annotations

from ..untrusted import code_block, one_line
from ..workbench.php_eval import PhpEvalResult

ALLOW_HINT = ("Set MYBB_ALLOW_PHP=1 in the MCP server's environment (its configuration in your MCP client) "
              "and restart it; or run it yourself with `mybb-server php 'CODE'`.")


def _where(file: str, line: int) -> str:
    return f"your code line {line}" if "eval()'d code" in file else f"{file}:{line}"


def render_php(result: PhpEvalResult) -> str:
    if result.finished:
        head = "# PHP Ran" if result.exception is None else "# PHP Threw"
    else:
        head = "# PHP Stopped"
    out = [head + "\n", f"Inside the forum (global.php loaded), limits {result.timeout:g} s and {result.memory_limit}."]
    if result.stopped:
        out.append(f"\nStopped: {one_line(result.stopped)}. The forum and this server are unaffected.")
    if result.exception:
        out += ["\n## Exception\n", *code_block(result.exception.splitlines())]
    if result.finished and result.exception is None:
        out += ["\n## Return Value\n", *code_block((result.return_value or "NULL").splitlines())]
    out.append("\n## Output\n")
    out += code_block(result.output.splitlines()) if result.output else ["(none)"]
    out.append("\n## Errors\n")
    if result.errors:
        out += [f"- {e.kind}: {one_line(e.message)} ({one_line(_where(e.file, e.line))})" for e in result.errors]
    else:
        out.append("(none)")
    if not result.finished and result.stopped and "memory" in result.stopped:
        out.append(f"\n**Next:** use less memory (the limit is {result.memory_limit}): fetch fewer rows, unset what "
                   "you no longer need.")
    elif not result.finished:
        out.append("\n**Next:** fix the loop, or pass a larger `timeout_seconds` (up to 60) if it needs the time.")
    return "\n".join(out) + "\n"


def render_php_disabled() -> str:
    return ("# PHP Evaluation Is Off\n\nmybb_forum_php runs code inside the forum, so it is off unless the person "
            f"running this MCP server allows it. Nothing was run.\n\n**Next:** {ALLOW_HINT}\n")
