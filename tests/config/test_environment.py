"""A validated environment, and its compact form held between validation and rendering."""

from __future__ import annotations

from tests.stack import LAMBDAS, TEMPLATES, loaded, rendered
from tfgen.config import environment
from tfgen.render import templates as render


def test_a_packed_environment_unpacks_to_the_same_model_and_render() -> None:
    prod = loaded("prod")
    packed = environment.Packed.of(prod)
    unpacked = packed.unpack()
    assert unpacked.name == "prod" and unpacked.model == prod.model
    assert unpacked.model is not prod.model
    assert len(packed.model_bytes) < 64 * 1024
    assert render.render(unpacked, TEMPLATES, LAMBDAS) == rendered("prod")
