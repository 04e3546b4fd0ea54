"""Writing a rendered tree: atomic swap, untouched identical files, manifest-owned cleanup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import snapshot
from tfgen.errors import OutputError
from tfgen.render import output
from tfgen.render.templates import MANIFEST, Rendered


def tree(files: dict[str, str], env: str = "dev") -> Rendered:
    return Rendered(env=env, files={k: v.encode() for k, v in files.items()}, config_digest="d")


def test_first_write_creates_the_tree_and_manifest(tmp_path: Path) -> None:
    target = tmp_path / "dev"
    result = output.write(tree({"a.tf": "a\n", "packages/x.zip": "zip"}), target)
    assert result.written == ["a.tf", "packages/x.zip"]
    assert (target / "a.tf").read_text() == "a\n"
    manifest = output.read_manifest(target)
    assert manifest is not None and sorted(manifest["files"]) == ["a.tf", "packages/x.zip"]
    assert [p.name for p in tmp_path.iterdir()] == ["dev"]  # no temporary directory left behind


def test_identical_files_keep_their_inode_and_mtime(tmp_path: Path) -> None:
    target = tmp_path / "dev"
    output.write(tree({"a.tf": "a\n", "b.tf": "b\n"}), target)
    before = (target / "a.tf").stat()
    os.utime(target / "a.tf", ns=(1, 1))
    result = output.write(tree({"a.tf": "a\n", "b.tf": "changed\n"}), target)
    after = (target / "a.tf").stat()
    assert result.unchanged == ["a.tf"] and result.written == ["b.tf"]
    assert after.st_ino == before.st_ino and after.st_mtime_ns == 1


def test_written_files_are_0644_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        output.write(tree({"a.tf": "a\n"}), tmp_path / "dev")
    finally:
        os.umask(old)
    assert ((tmp_path / "dev" / "a.tf").stat().st_mode & 0o777) == 0o644
    assert ((tmp_path / "dev").stat().st_mode & 0o777) == 0o755


def test_large_files_shared_by_environments_are_linked_small_ones_written(tmp_path: Path) -> None:
    big = "z" * output.SharedFiles.MIN_SIZE
    shared = output.SharedFiles()
    for env in ("dev", "prod"):
        output.write(tree({"a.tf": "a\n", "packages/x.zip": big}, env), tmp_path / env, shared=shared)
    dev, prod = (tmp_path / "dev" / "packages" / "x.zip").stat(), (tmp_path / "prod" / "packages" / "x.zip").stat()
    assert dev.st_ino == prod.st_ino and dev.st_nlink == 2 and (prod.st_mode & 0o777) == 0o644
    assert (tmp_path / "dev" / "a.tf").stat().st_ino != (tmp_path / "prod" / "a.tf").stat().st_ino
    assert (tmp_path / "prod" / "packages" / "x.zip").read_text() == big


def test_a_shared_file_that_went_away_is_written_instead(tmp_path: Path) -> None:
    big = "z" * output.SharedFiles.MIN_SIZE
    shared = output.SharedFiles()
    output.write(tree({"packages/x.zip": big}, "dev"), tmp_path / "dev", shared=shared)
    (tmp_path / "dev" / "packages" / "x.zip").unlink()
    result = output.write(tree({"packages/x.zip": big}, "prod"), tmp_path / "prod", shared=shared)
    assert result.written == ["packages/x.zip"]
    assert (tmp_path / "prod" / "packages" / "x.zip").read_text() == big


def test_files_no_template_produces_any_more_are_removed_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "dev"
    output.write(tree({"a.tf": "a\n", "old.tf": "o\n"}), target)
    (target / "terraform.tfstate").write_text("{}")
    (target / ".terraform" / "providers").mkdir(parents=True)
    (target / ".terraform" / "providers" / "p").write_text("binary")
    os.symlink("/nonexistent/cache", target / ".terraform" / "link")
    result = output.write(tree({"a.tf": "a2\n"}), target)
    assert result.removed == ["old.tf"]
    assert not (target / "old.tf").exists()
    assert (target / "terraform.tfstate").read_text() == "{}"
    assert (target / ".terraform" / "providers" / "p").read_text() == "binary"
    assert os.readlink(target / ".terraform" / "link") == "/nonexistent/cache"


def test_refuses_a_non_empty_directory_without_manifest(tmp_path: Path) -> None:
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "main.tf").write_text("mine")
    with pytest.raises(OutputError, match=r"has no \.tfgen-manifest\.json"):
        output.write(tree({"a.tf": "a\n"}), tmp_path / "dev")
    assert (tmp_path / "dev" / "main.tf").read_text() == "mine"


def test_a_failure_mid_write_leaves_the_previous_tree_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "dev"
    output.write(tree({"a.tf": "a\n", "b.tf": "b\n", "c.tf": "c\n"}), target)
    before = snapshot(target)
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        output.write(tree({"a.tf": "A\n", "b.tf": "B\n", "c.tf": "C\n"}), target)
    assert snapshot(target) == before
    assert [p.name for p in tmp_path.iterdir()] == ["dev"]


def test_an_interrupted_swap_is_recovered_on_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "dev"
    output.write(tree({"a.tf": "a\n"}), target)
    os.rename(target, tmp_path / ".dev.tfgen-old-abc")  # killed between the two renames
    (tmp_path / ".dev.tfgen-tmp-xyz").mkdir()  # and a half-built staging tree
    output.recover(target)
    assert (target / "a.tf").read_text() == "a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev"]


def test_status_distinguishes_missing_stale_edited_and_orphaned(tmp_path: Path) -> None:
    target = tmp_path / "dev"
    output.write(tree({"a.tf": "a\n", "b.tf": "b\n", "c.tf": "c\n", "gone.tf": "g\n"}), target)
    (target / "b.tf").write_text("hand edit\n")
    (target / "c.tf").unlink()
    state = output.status(tree({"a.tf": "a changed\n", "b.tf": "b\n", "c.tf": "c\n", "new.tf": "n\n"}), target)
    assert state.stale == ["a.tf"] and state.edited == ["b.tf"]
    assert state.missing == ["c.tf", "new.tf"] and state.orphaned == ["gone.tf"]
    assert not state.clean


def test_manifest_records_hashes_digest_and_version(tmp_path: Path) -> None:
    import json

    from tfgen import __version__

    data = json.loads(output.manifest_bytes(tree({"a.tf": "a\n"})))
    assert data == {"config_digest": "d", "environment": "dev", "tfgen_version": __version__,
                    "files": {"a.tf": output.sha256(b"a\n")}}
    assert MANIFEST == ".tfgen-manifest.json"
