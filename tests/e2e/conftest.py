"""The end-to-end modules' fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module", autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One tfgen state directory (the private records of saved plans) for a module's whole flow,
    whose scenarios plan in one test and apply in a later one; never the real home's."""
    path = tmp_path_factory.mktemp("tfgen-state") / "state"
    before = os.environ.get("TFGEN_STATE_DIR")
    os.environ["TFGEN_STATE_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("TFGEN_STATE_DIR", None)
    else:
        os.environ["TFGEN_STATE_DIR"] = before
