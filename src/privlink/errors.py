"""Errors privlink reports to users: one line naming where and what, plus a hint, and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class PrivlinkError(Exception):
    """An error with a place (`where`), a message (`what`) and an optional fix (`hint`)."""

    exit_code = EXIT_FAILED

    def __init__(self, where: str, what: str, hint: str | None = None) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what
        self.hint = hint

    def one_line(self) -> str:
        return f"{self.where}: {self.what}"


class BadInput(PrivlinkError):
    """Bad spec, flag or state: exit 2, nothing created."""

    exit_code = EXIT_BAD_INPUT


class SpecError(BadInput):
    """The spec file is missing, unreadable or invalid."""


class StateError(BadInput):
    """The `.privlink/` state is missing or corrupt."""


class DeployFailed(PrivlinkError):
    """A deployment step failed on the target (exit 1)."""


class AwsError(PrivlinkError):
    """An AWS API call failed; `code` is AWS's error code."""

    def __init__(self, where: str, what: str, hint: str | None = None, code: str = "") -> None:
        super().__init__(where, what, hint)
        self.code = code
