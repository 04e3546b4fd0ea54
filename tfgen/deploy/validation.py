"""``tfgen validate``: read rendered output back, then let terraform judge it."""

from __future__ import annotations

from dataclasses import dataclass

from tfgen.deploy import terraform
from tfgen.project import Project
from tfgen.render import lint

_PARSE = ("parse", "references")
_TERRAFORM = ("terraform fmt", "terraform validate")


@dataclass(frozen=True)
class Validated:
    """One environment's output: the checks that ran on it and the problems they found."""

    env: str
    checks: tuple[str, ...]
    problems: list[str]


def validate_each(project: Project, names: list[str]) -> tuple[list[Validated], bool]:
    """Every named environment's output checked, and whether terraform was found to check it."""
    has_terraform = terraform.binary() is not None
    results = []
    for name in names:
        target = project.target(name)
        if not any(target.glob("*.tf")):
            results.append(Validated(name, (), [f"{target}: nothing rendered: run `tfgen render {name}`"]))
            continue
        found = lint.check(target)
        checks: tuple[str, ...] = _PARSE
        if not found and has_terraform:
            found = terraform.validate(target)
            checks += _TERRAFORM
        results.append(Validated(name, checks, found))
    return results, has_terraform


def validate_envs(project: Project, names: list[str]) -> tuple[list[str], list[str]]:
    """Problems found and notes on what ran, over every named environment's output."""
    results, has_terraform = validate_each(project, names)
    problems = [problem for result in results for problem in result.problems]
    checks = "parse, references" + (", terraform fmt and validate" if has_terraform else "")
    notes = [f"{r.env}: {'FAILED' if r.problems else 'ok'} ({checks})" for r in results if r.checks]
    if not has_terraform:
        notes.append("terraform not found on PATH: fmt and validate skipped")
    return problems, notes
