"""The configuration a saved plan file holds, read from hand-made zip archives shaped as terraform
writes them (tfplan, tfstate, tfconfig/modules.json, tfconfig/m-KEY/FILE, .terraform.lock.hcl)."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from tfgen.deploy import planfile

MAIN = b'resource "aws_vpc" "this" {}\n'
OUTPUTS = b'output "vpc_id" {\n  value = aws_vpc.this.id\n}\n'
BACKDOOR = OUTPUTS + b'resource "aws_iam_user" "backdoor" { name = "x" }\n'


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def plan_file(config: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    """A saved plan holding ``config`` (path under tfconfig/: content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tfplan", b"\x0a\x02plan")
        archive.writestr("tfstate", b"{}")
        archive.writestr("tfconfig/modules.json", b'[{"Key": "", "Dir": "."}]')
        for name, data in config.items():
            archive.writestr(f"tfconfig/{name}", data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        archive.writestr(".terraform.lock.hcl", b"# lock\n")
    return buffer.getvalue()


RENDERED = {"main.tf": sha(MAIN), "outputs.tf": sha(OUTPUTS), "packages/fn.zip": sha(b"zip")}


def test_the_configuration_is_read_by_path_with_the_sha256_of_each_file() -> None:
    data = plan_file({"m-/main.tf": MAIN, "m-/outputs.tf": OUTPUTS, "m-vpc/vpc.tf": b"x"})
    assert planfile.embedded(data) == {"tfconfig/m-/main.tf": sha(MAIN), "tfconfig/m-/outputs.tf": sha(OUTPUTS),
                                       "tfconfig/m-vpc/vpc.tf": sha(b"x")}


def test_the_configuration_rendered_is_the_plans() -> None:
    assert planfile.differences(plan_file({"m-/main.tf": MAIN, "m-/outputs.tf": OUTPUTS}), RENDERED) == []


def test_a_file_read_with_other_content_is_named_with_both_digests() -> None:
    data = plan_file({"m-/main.tf": MAIN, "m-/outputs.tf": BACKDOOR})
    assert planfile.differences(data, RENDERED) == [
        "the plan was made from configuration tfgen did not render: outputs.tf was read by terraform with other "
        f"content (sha256 {sha(BACKDOOR)[:12]}, rendered {sha(OUTPUTS)[:12]})"]


@pytest.mark.parametrize("name", ["override.tf", "evil.tf.json", "terraform.tfvars", "notes.txt"])
def test_a_file_tfgen_did_not_render_is_named(name: str) -> None:
    data = plan_file({"m-/main.tf": MAIN, "m-/outputs.tf": OUTPUTS, f"m-/{name}": b"locals {}\n"})
    assert planfile.differences(data, RENDERED) == [
        f"the plan was made from configuration tfgen did not render: {name} is in the plan's configuration, and "
        "tfgen did not render it"]


def test_a_rendered_file_missing_from_the_plan_is_named() -> None:
    assert planfile.differences(plan_file({"m-/main.tf": MAIN}), RENDERED) == [
        "the plan was made from configuration tfgen did not render: outputs.tf, rendered by tfgen, is not in the "
        "plan's configuration"]


def test_a_module_is_configuration_tfgen_did_not_render() -> None:
    data = plan_file({"m-/main.tf": MAIN, "m-/outputs.tf": OUTPUTS, "m-evil/main.tf": b"locals {}\n"})
    assert planfile.differences(data, RENDERED) == [
        "the plan was made from configuration tfgen did not render: tfconfig/m-evil/main.tf is in the plan's "
        "configuration, and tfgen renders no module"]


def test_a_plan_without_configuration_misses_every_rendered_file() -> None:
    assert len(planfile.differences(plan_file({}), RENDERED)) == 2


def test_only_the_root_modules_configuration_files_are_compared() -> None:
    assert planfile.rendered_configuration({"a.tf": "1", "b.tf.json": "2", "packages/c.tf": "3",
                                            "packages/fn.zip": "4", "notes.md": "5"}) == {"a.tf": "1", "b.tf.json": "2"}


@pytest.mark.parametrize("data", [b"binary-plan x\n", b"", plan_file({"m-/main.tf": MAIN})[:-30]])
def test_a_file_that_is_not_a_zip_archive_is_one_refusal(data: bytes) -> None:
    [line] = planfile.differences(data, RENDERED)
    assert line.startswith("the plan was made from configuration tfgen did not render: plan/tfplan: not a plan "
                           "file terraform saved (")


def test_a_file_named_twice_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("tfconfig/m-/outputs.tf", OUTPUTS)
        archive.writestr("tfconfig/m-/outputs.tf", BACKDOOR)
    with pytest.raises(ValueError, match=r"tfconfig/m-/outputs\.tf is in it twice"):
        planfile.embedded(buffer.getvalue())


def test_a_corrupted_member_is_refused() -> None:
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("tfconfig/m-/main.tf", MAIN)
    data = bytearray(stored.getvalue())
    offset = bytes(data).index(MAIN)
    data[offset] ^= 1  # the CRC no longer matches
    with pytest.raises(ValueError, match="not a plan file terraform saved"):
        planfile.embedded(bytes(data))
