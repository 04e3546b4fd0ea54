"""A validated environment, and its compact form held between validation and rendering."""

from __future__ import annotations

from tests.conftest import ROOT
from tfgen import environment, render


def test_a_packed_environment_unpacks_to_the_same_model_and_render() -> None:
    loaded = environment.load(ROOT / "environments", "prod")
    packed = environment.Packed.of(loaded)
    unpacked = packed.unpack()
    assert unpacked.name == "prod" and unpacked.model == loaded.model
    assert unpacked.model is not loaded.model
    assert len(packed.model_bytes) < 64 * 1024
    templates, lambdas = ROOT / "templates", ROOT / "lambdas"
    assert render.render(unpacked, templates, lambdas) == render.render(loaded, templates, lambdas)
