"""The package metadata builds without deprecation warnings on a fresh install."""

from __future__ import annotations

import re
import subprocess
import tomllib
import venv
from pathlib import Path

from tests.conftest import ROOT


def test_license_is_an_spdx_string_and_setuptools_is_new_enough_to_read_it() -> None:
    # A `project.license` table makes setuptools >= 77 print a deprecation wall on every
    # install; the SPDX string form needs setuptools 77 or later.
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    license_ = meta["project"]["license"]
    assert isinstance(license_, str) and re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9.+-]+", license_)
    [setuptools] = [req for req in meta["build-system"]["requires"] if req.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert match and int(match.group(1)) >= 77


def test_a_fresh_editable_install_prints_no_setuptools_notice(tmp_path: Path) -> None:
    """What `make venv` runs on a fresh clone: setuptools (fetched for the isolated build) must
    print neither a deprecation wall nor its editable-install notice."""
    venv.create(tmp_path / "venv", with_pip=True)
    pip = [str(tmp_path / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # A current pip, as make venv installs first: older ones do not pass the build's notices on.
    subprocess.run([*pip, "--upgrade", "pip"], capture_output=True, check=True, stdin=subprocess.DEVNULL)
    done = subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    printed = done.stdout + done.stderr
    for notice in ("!!", "BuildBackendWarning", "SetuptoolsDeprecationWarning", "Editable installation"):
        assert notice not in printed, printed
