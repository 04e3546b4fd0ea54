"""The plan files of the stand-in terraform of tests/deploy/test_plans.py, shaped as terraform's: a zip
archive whose ``tfplan`` entry names the plan JSON fixture ``terraform show`` prints, and whose
``tfconfig/m-/`` holds the root module's ``.tf`` and ``.tf.json`` files as they were read.

Run by the stand-in: ``write OUT`` (the fixture from FAKE_TF_PLAN, the configuration from the current
directory; FAKE_TF_EDIT=FILE: a process appends a resource to FILE before terraform reads it and
restores FILE after the plan file is written), ``fixture PLANFILE`` and ``name PLANFILE``."""

from __future__ import annotations

import io
import os
import sys
import zipfile
from pathlib import Path

BACKDOOR = 'resource "aws_iam_user" "backdoor" { name = "x" }\n'


def plan_file(fixture: str, directory: Path) -> bytes:
    """The bytes of a plan file of ``fixture`` made from the configuration in ``directory``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tfplan", f"binary-plan {fixture}\n")
        archive.writestr("tfconfig/modules.json", '[{"Key": "", "Dir": "."}]')
        for path in sorted(directory.iterdir()):
            if path.name.endswith((".tf", ".tf.json")) and not path.name.startswith(".") and path.is_file():
                archive.writestr(f"tfconfig/m-/{path.name}", path.read_bytes())
    return buffer.getvalue()


def fixture_of(path: Path) -> str:
    """The plan JSON fixture the plan file at ``path`` names."""
    with zipfile.ZipFile(path) as archive:
        return archive.read("tfplan").decode().split(" ", 1)[1].strip()


def write(out: Path, directory: Path) -> None:
    edited = os.environ.get("FAKE_TF_EDIT")
    before = (directory / edited).read_bytes() if edited else b""
    if edited:
        with open(directory / edited, "a", encoding="utf-8") as handle:
            handle.write(BACKDOOR)
    out.write_bytes(plan_file(os.environ["FAKE_TF_PLAN"], directory))
    if edited:
        (directory / edited).write_bytes(before)


if __name__ == "__main__":
    command, path = sys.argv[1], Path(sys.argv[2])
    if command == "write":
        write(path, Path.cwd())
    elif command == "fixture":
        sys.stdout.write(Path(fixture_of(path)).read_text())
    else:
        print(f"binary-plan {fixture_of(path)}")
