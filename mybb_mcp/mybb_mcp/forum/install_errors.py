"""The one failure of an install: the step it stopped at, MyBB's or the system's words, and the fix."""

from __future__ import annotations

from ..errors import MybbMcpError


class InstallError(MybbMcpError):
    """The install stopped at `step`; nothing of it was left behind."""

    def __init__(self, step: str, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.step = step

    def __str__(self) -> str:
        return f"Install failed at step '{self.step}': {super().__str__()}"
