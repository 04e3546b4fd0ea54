"""``tfgen validate``: read rendered output back, then let terraform judge it."""

from __future__ import annotations

from tfgen import lint, terraform
from tfgen.project import Project


def validate_envs(project: Project, names: list[str]) -> tuple[list[str], list[str]]:
    """Problems found and notes on what ran, over every named environment's output."""
    problems: list[str] = []
    notes: list[str] = []
    has_terraform = terraform.binary() is not None
    for name in names:
        target = project.target(name)
        if not any(target.glob("*.tf")):
            problems.append(f"{target}: nothing rendered: run `tfgen render {name}`")
            continue
        found = lint.check(target)
        if not found and has_terraform:
            found = terraform.validate(target)
        problems.extend(found)
        checks = "parse, references" + (", terraform fmt and validate" if has_terraform else "")
        notes.append(f"{name}: {'FAILED' if found else 'ok'} ({checks})")
    if not has_terraform:
        notes.append("terraform not found on PATH: fmt and validate skipped")
    return problems, notes
