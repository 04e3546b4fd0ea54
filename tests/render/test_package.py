"""Reproducible deployment packages: bytes, zip metadata, vendoring, cache, failures."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tfgen.render import package
from tfgen.render.package import BuiltPackage, PackageSpec, PackagingError, build_package

ROOT = Path(__file__).resolve().parents[2]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def make_sources(base: Path, *, mode: int = 0o644, mtime: int = 1_700_000_000) -> tuple[Path, Path]:
    """A function directory and a shared directory, with litter that must stay out."""
    function, common = base / "fn", base / "common"
    _write(function / "handler.py", "def handler(event, context):\n    return {}\n", mode)
    _write(function / "helpers" / "util.py", "VALUE = 1\n", mode)
    _write(function / "requirements.txt", "tinydep==1.0\n", mode)
    _write(common / "shared" / "__init__.py", '"""Shared."""\n', mode)
    _write(common / "shared" / "data.json", '{"a": 1}\n', mode)
    # Litter.
    _write(function / "__pycache__" / "handler.cpython-312.pyc", "junk")
    _write(function / "stale.pyc", "junk")
    _write(function / ".env", "SECRET=1")
    _write(common / ".git" / "config", "[core]")
    _write(common / "shared" / ".DS_Store", "junk")
    for path in base.rglob("*"):
        os.utime(path, (mtime, mtime))
    return function, common


def make_wheel(directory: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A pure-Python wheel with a console script (which installs into bin/)."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "def main():\n    return 0\n",
        f"{name}/py.typed": "",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": ("Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        f"{dist_info}/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip resolves only from a directory of wheels made here (no network)."""
    wheels = tmp_path / "wheels"
    make_wheel(wheels)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return wheels


def spec_for(function: Path, common: Path, requirements: Path | None = None, **changes: Any) -> PackageSpec:
    values: dict[str, Any] = {
        "name": "payment_validation",
        "sources": (function, common),
        "requirements": requirements,
        "runtime": "python3.12",
        "architecture": "x86_64",
    }
    values.update(changes)
    return PackageSpec(**values)


def entries(built: BuiltPackage) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        return archive.infolist()


def names(built: BuiltPackage) -> list[str]:
    return [info.filename for info in entries(built)]


# --- reproducibility and zip metadata ---------------------------------------------------


def test_same_inputs_give_the_same_bytes_anywhere(tmp_path: Path) -> None:
    first = build_package(spec_for(*make_sources(tmp_path / "a")), tmp_path / "cache-a")
    second = build_package(
        spec_for(*make_sources(tmp_path / "somewhere" / "else", mode=0o755, mtime=1_800_000_000)),
        tmp_path / "cache-b",
    )
    assert first.data == second.data
    assert first.source_code_hash == second.source_code_hash


def test_zip_entries_are_normalized(tmp_path: Path) -> None:
    built = build_package(spec_for(*make_sources(tmp_path)), tmp_path / "cache")
    assert names(built) == [
        "handler.py",
        "helpers/util.py",
        "requirements.txt",
        "shared/__init__.py",
        "shared/data.json",
    ]
    for info in entries(built):
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert not info.filename.startswith("/") and ".." not in info.filename.split("/")
        assert not info.is_dir()
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        assert archive.read("helpers/util.py") == b"VALUE = 1\n"
        assert archive.testzip() is None


def test_source_code_hash_is_what_terraform_computes(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = build_package(spec_for(*make_sources(tmp_path / "src")), cache)
    (cached,) = cache.glob("*.zip")
    expected = base64.b64encode(hashlib.sha256(cached.read_bytes()).digest()).decode()
    assert built.source_code_hash == expected
    assert cached.read_bytes() == built.data
    assert built.name == "payment_validation"


def test_any_source_change_changes_the_package(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    cache = tmp_path / "cache"
    before = build_package(spec_for(function, common), cache)
    (common / "shared" / "data.json").write_text('{"a": 2}\n')
    after = build_package(spec_for(function, common), cache)
    (function / "helpers" / "util.py").rename(function / "helpers" / "util2.py")
    renamed = build_package(spec_for(function, common), cache)
    assert len({before.data, after.data, renamed.data}) == 3
    assert len(list(cache.glob("payment_validation-*.zip"))) == 3


def test_runtime_and_architecture_are_part_of_the_cache_key(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    cache = tmp_path / "cache"
    build_package(spec_for(function, common), cache)
    build_package(spec_for(function, common, runtime="python3.13"), cache)
    build_package(spec_for(function, common, architecture="arm64"), cache)
    assert len(list(cache.glob("*.zip"))) == 3


# --- cache ------------------------------------------------------------------------------


def test_unchanged_package_comes_from_the_cache(
    tmp_path: Path, local_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    function, common = make_sources(tmp_path / "src")
    spec = spec_for(function, common, function / "requirements.txt")
    cache = tmp_path / "cache"
    first = build_package(spec, cache)

    def no_pip(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pip must not run for a cached package")

    monkeypatch.setattr("tfgen.render.package.subprocess.run", no_pip)
    monkeypatch.setattr(package, "_zip", no_pip)
    second = build_package(spec, cache)
    assert second == first
    (cached,) = cache.iterdir()
    assert re.fullmatch(r"payment_validation-[0-9a-f]{64}\.zip", cached.name)


def test_a_corrupt_cache_file_is_rebuilt(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    cache = tmp_path / "cache"
    built = build_package(spec_for(function, common), cache)
    (cached,) = cache.glob("*.zip")
    cached.write_bytes(b"not a zip")
    again = build_package(spec_for(function, common), cache)
    assert again.data == built.data
    assert cached.read_bytes() == built.data


def test_cache_writes_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    function, common = make_sources(tmp_path / "src")
    cache = tmp_path / "cache"

    def fail_replace(source: Any, target: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("tfgen.render.package.os.replace", fail_replace)
    with pytest.raises(PackagingError, match="disk full"):
        build_package(spec_for(function, common), cache)
    assert list(cache.iterdir()) == []


def test_unwritable_cache_directory(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PackagingError, match="cannot write to the package cache"):
        build_package(spec_for(function, common), blocker / "cache")


# --- vendoring --------------------------------------------------------------------------


def test_requirements_are_vendored_without_install_records(tmp_path: Path, local_index: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    built = build_package(spec_for(function, common, function / "requirements.txt"), tmp_path / "cache")
    listed = names(built)
    assert "tinydep/__init__.py" in listed
    assert "tinydep/py.typed" in listed
    assert "tinydep-1.0.dist-info/METADATA" in listed
    assert "tinydep-1.0.dist-info/entry_points.txt" in listed
    for dropped in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json"):
        assert f"tinydep-1.0.dist-info/{dropped}" not in listed
    assert not any(name.startswith("bin/") or name.endswith(".pyc") for name in listed)
    assert listed == sorted(listed)


def test_vendored_packages_are_reproducible_too(tmp_path: Path, local_index: Path) -> None:
    built = []
    for place in ("one", "two/deeper"):
        function, common = make_sources(tmp_path / place)
        requirements = tmp_path / place / "reqs" / "requirements.txt"
        _write(requirements, "tinydep==1.0\n")
        built.append(build_package(spec_for(function, common, requirements), tmp_path / place / "cache"))
    assert built[0].data == built[1].data


def test_pip_is_called_for_the_lambda_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    function, common = make_sources(tmp_path / "src")
    calls: list[list[str]] = []

    def fake_pip(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        target = Path(command[command.index("--target") + 1])
        _write(target / "dep" / "__init__.py", "")
        _write(target / "bin" / "tool", "#!/abs/path/python\n")
        _write(target / "dep" / "__pycache__" / "x.pyc", "")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr("tfgen.render.package.subprocess.run", fake_pip)
    built = build_package(
        spec_for(function, common, function / "requirements.txt", architecture="arm64"),
        tmp_path / "cache",
    )
    (command,) = calls
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    for pair in (
        ["--platform", "manylinux2014_aarch64"],
        ["--python-version", "3.12"],
        ["--implementation", "cp"],
        ["-r", str(function / "requirements.txt")],
    ):
        index = command.index(pair[0])
        assert command[index : index + 2] == pair
    assert {"--only-binary=:all:", "--no-deps", "--no-compile"} <= set(command)
    assert "dep/__init__.py" in names(built)
    assert not any(name.startswith("bin/") or "__pycache__" in name for name in names(built))


def test_real_rotation_requirements(tmp_path: Path) -> None:
    """The rotation function's pinned pg8000 set, fetched from the package index."""
    source = ROOT / "lambdas" / "db_secret_rotation"
    spec = PackageSpec(
        name="db_secret_rotation",
        sources=(source,),
        requirements=source / "requirements.txt",
        runtime="python3.12",
        architecture="x86_64",
    )
    built = build_package(spec, tmp_path / "cache")
    listed = set(names(built))
    for module in (
        "db_secret_rotation.py",
        "rotation_db.py",
        "pg8000/__init__.py",
        "scramp/__init__.py",
        "asn1crypto/__init__.py",
        "dateutil/__init__.py",
        "six.py",
    ):
        assert module in listed
    assert not any(name.endswith("/RECORD") for name in listed)

    again = build_package(spec, tmp_path / "other-cache")
    assert again.data == built.data

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        archive.extractall(unpacked)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import pg8000, rotation_db; "
        "assert pg8000.__file__.startswith(sys.argv[1]), pg8000.__file__"
    )
    subprocess.run([sys.executable, "-c", probe, str(unpacked)], check=True, timeout=60)


# --- failures ---------------------------------------------------------------------------


def test_unfetchable_requirement_names_it_and_leaves_the_cache_alone(tmp_path: Path, local_index: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinydep==1.0\nno-such-dependency-tfgen==9.9.9\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(PackagingError) as caught:
        build_package(spec_for(function, common, requirements), cache)
    message = str(caught.value)
    assert "no-such-dependency-tfgen==9.9.9" in message
    assert str(requirements) in message
    assert list(cache.iterdir()) == []


def test_hash_mismatch_is_reported(tmp_path: Path, local_index: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinydep==1.0 --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(PackagingError, match="does not match its pinned hash"):
        build_package(spec_for(function, common, requirements), tmp_path / "cache")


def test_other_pip_failures_show_pips_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    function, common = make_sources(tmp_path / "src")

    def broken(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "ERROR: something odd happened\n")

    monkeypatch.setattr("tfgen.render.package.subprocess.run", broken)
    with pytest.raises(PackagingError, match="something odd happened"):
        build_package(spec_for(function, common, function / "requirements.txt"), tmp_path / "c")


@pytest.mark.parametrize("error", [FileNotFoundError("python"), subprocess.TimeoutExpired("pip", 900)])
def test_pip_that_cannot_run_or_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    function, common = make_sources(tmp_path / "src")

    def fail(command: list[str], **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr("tfgen.render.package.subprocess.run", fail)
    with pytest.raises(PackagingError, match="pip"):
        build_package(spec_for(function, common, function / "requirements.txt"), tmp_path / "c")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"runtime": "nodejs20.x"}, "not a Python Lambda runtime"),
        ({"architecture": "sparc"}, "not supported"),
        ({"name": "../evil"}, "not a safe file name"),
        ({"sources": ()}, "no source directories"),
    ],
)
def test_invalid_specs(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    function, common = make_sources(tmp_path / "src")
    with pytest.raises(PackagingError, match=message):
        build_package(spec_for(function, common, **changes), tmp_path / "cache")


def test_missing_inputs(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    with pytest.raises(PackagingError, match="does not exist"):
        build_package(spec_for(function, tmp_path / "nowhere"), tmp_path / "cache")
    with pytest.raises(PackagingError, match="cannot read requirements"):
        build_package(spec_for(function, common, tmp_path / "missing.txt"), tmp_path / "cache")


def test_the_same_path_in_two_sources_is_an_error(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    _write(common / "handler.py", "")
    with pytest.raises(PackagingError, match=r"handler\.py is in both"):
        build_package(spec_for(function, common), tmp_path / "cache")


def test_a_source_file_clashing_with_a_requirement_is_an_error(tmp_path: Path, local_index: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    _write(common / "tinydep" / "__init__.py", "")
    with pytest.raises(PackagingError, match="both in the sources and in the requirements"):
        build_package(spec_for(function, common, function / "requirements.txt"), tmp_path / "cache")


def test_unreadable_source_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    function, common = make_sources(tmp_path / "src")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "util.py":
            raise PermissionError("denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(PackagingError, match=r"cannot read .*util\.py"):
        build_package(spec_for(function, common), tmp_path / "cache")


def test_symlinked_directories_are_skipped_and_file_links_followed(tmp_path: Path) -> None:
    function, common = make_sources(tmp_path / "src")
    outside = tmp_path / "outside"
    _write(outside / "big.py", "X = 1\n")
    (function / "linked_dir").symlink_to(outside, target_is_directory=True)
    (function / "linked_file.py").symlink_to(outside / "big.py")
    listed = names(build_package(spec_for(function, common), tmp_path / "cache"))
    assert "linked_file.py" in listed
    assert not any(name.startswith("linked_dir/") for name in listed)


def test_importing_the_module_is_cheap() -> None:
    probe = ("import sys, tfgen.render.package; "
             "print(sorted(m for m in ('jinja2', 'yaml', 'boto3') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert output.strip() == "[]"
