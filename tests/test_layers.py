"""The package's layers: every import inside tfgen runs down the table below, never up.

Top to bottom: the entry point, the click layer, other tools' formats, terraform runs and their
judges, the project, rendering, the environment model, and the shared root modules. A module may
import its own layer or any layer below it; imports inside functions count too."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

LAYERS = ("root", "config", "render", "project", "deploy", "integrations", "cli", "__main__")
ROOT_MODULES = {"__init__", "inputs", "errors"}


def layer(module: str) -> str:
    """The layer of a dotted module name inside tfgen (``tfgen.deploy.review`` -> ``deploy``)."""
    parts = module.split(".")
    assert parts[0] == "tfgen", module
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in ROOT_MODULES:
        return "root"
    assert head in LAYERS, f"{module}: in no layer; add it to LAYERS (tests/test_layers.py) where it belongs"
    return head


def imports(source: str) -> list[str]:
    """The tfgen modules a module's source imports, at any depth of the code."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "tfgen"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "tfgen":
            base = str(node.module)  # a name may be a submodule: from tfgen.deploy import plans
            found += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    return found


def upward(module: str, source: str) -> list[str]:
    """The imports of ``module`` that reach a layer above its own."""
    own = LAYERS.index(layer(module))
    return [name for name in imports(source) if LAYERS.index(layer(name)) > own]


def modules() -> dict[str, str]:
    return {".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path.read_text()
            for path in sorted((ROOT / "tfgen").rglob("*.py"))}


MODULES = set(modules())


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    problems = {name: found for name, source in modules().items() if (found := upward(name, source))}
    assert problems == {}


def test_every_module_is_in_a_layer_and_the_walk_sees_the_package() -> None:
    found = modules()
    assert {layer(name) for name in found} == set(LAYERS)
    assert "tfgen.deploy.plans" in imports(found["tfgen.cli.plan"])  # function-local imports are read too


def test_an_upward_import_is_found() -> None:
    source = "def f():\n    from tfgen.cli.main import main\n    import tfgen.deploy.plans\n"
    assert upward("tfgen.render.templates", source) == ["tfgen.cli.main", "tfgen.deploy.plans"]
    assert upward("tfgen.cli.main", source) == []
