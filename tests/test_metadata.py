"""The package metadata builds without deprecation warnings on a fresh install."""

from __future__ import annotations

import re
import tomllib

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
