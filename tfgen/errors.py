"""The exception hierarchy: every failure a user can act on is a TfgenError."""

from __future__ import annotations


class TfgenError(Exception):
    """An expected failure, reported as a clean message with an exit code."""

    exit_code = 2

    def lines(self) -> list[str]:
        """The lines to print on stderr."""
        return [f"tfgen: {line}" for line in str(self).splitlines()]


class UsageError(TfgenError):
    """The command line asks for something that cannot be done."""


class ConfigError(TfgenError):
    """One or more problems in the configuration, each a line with its location."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def lines(self) -> list[str]:
        return list(self.problems)


class RenderError(TfgenError):
    """A template failed to render (a template bug, not a configuration problem)."""

    exit_code = 3


class OutputError(TfgenError):
    """The output directory cannot be written safely."""


class Finding(TfgenError):
    """Not a failure of tfgen: something to report with exit code 1 (stale output, a diff)."""

    exit_code = 1

    def lines(self) -> list[str]:
        return str(self).splitlines()


class TerraformError(TfgenError):
    """The terraform binary is missing or failed."""

    exit_code = 1
