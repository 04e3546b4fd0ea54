"""Running the terraform binary.

Providers come from a local filesystem mirror when ``TFGEN_PLUGIN_DIR`` names
one: tfgen then writes a CLI configuration that installs from that mirror
only (nothing is downloaded) and links providers from a shared cache. Without
it, terraform runs with the user's own configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tfgen.errors import TerraformError
from tfgen.render import hcl

PLUGIN_DIR_VAR = "TFGEN_PLUGIN_DIR"
PLUGIN_CACHE_VAR = "TFGEN_PLUGIN_CACHE_DIR"


def binary() -> str | None:
    return os.environ.get("TFGEN_TERRAFORM") or shutil.which("terraform")


def require_binary() -> str:
    found = binary()
    if not found:
        raise TerraformError("terraform: not found on PATH (install Terraform >= 1.11 or set TFGEN_TERRAFORM)")
    return found


def cli_config(plugin_dir: str, cache_dir: str) -> str:
    """A terraform CLI configuration that installs providers from ``plugin_dir`` only."""
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path = {hcl.string(plugin_dir)}\n"
        "  }\n"
        "}\n"
        f"plugin_cache_dir = {hcl.string(cache_dir)}\n"
        "plugin_cache_may_break_dependency_lock_file = true\n"
    )


# Arguments terraform adds from the environment to every command, or to `show` and `apply`: they
# could change what `tfgen apply` applies or where (-state-out, -lock=false), so tfgen drops them.
DROPPED_VARS = ("TF_CLI_ARGS", "TF_CLI_ARGS_show", "TF_CLI_ARGS_apply")


@contextmanager
def environment() -> Iterator[dict[str, str]]:
    """The process environment for terraform, with the mirror configuration when one is set, and
    without the arguments terraform would take from it (DROPPED_VARS)."""
    env = {name: value for name, value in os.environ.items() if name not in DROPPED_VARS}
    env.setdefault("TF_IN_AUTOMATION", "1")
    plugin_dir = env.get(PLUGIN_DIR_VAR)
    if not plugin_dir:
        yield env
        return
    if not Path(plugin_dir).is_dir():
        raise TerraformError(f"{PLUGIN_DIR_VAR}={plugin_dir}: no such directory")
    cache = env.get(PLUGIN_CACHE_VAR) or str(
        Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfgen" / "terraform-plugins"
    )
    Path(cache).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tfgen-tf-") as scratch:
        rc = Path(scratch) / "terraform.rc"
        rc.write_text(cli_config(plugin_dir, cache), encoding="utf-8")
        env["TF_CLI_CONFIG_FILE"] = str(rc)
        yield env


def run(args: Sequence[str], cwd: Path, env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run terraform; output streams through unless ``capture``."""
    command = [require_binary(), *args]
    return subprocess.run(command, cwd=cwd, env=env, text=True, check=False,
                          capture_output=capture, stdin=subprocess.DEVNULL if capture else None)


def stream(args: Sequence[str], cwd: Path) -> int:
    """Run one terraform command in ``cwd`` with the tfgen environment, streaming, and return its code."""
    with environment() as env:
        return run(args, cwd, env).returncode


def show(directory: Path, env: dict[str, str], *args: str) -> str:
    """The JSON text of ``terraform show -json [ARGS]`` in ``directory`` (the state, or a plan file)."""
    shown = run(["show", "-json", "-no-color", *args], directory, env, capture=True)
    if shown.returncode != 0:
        raise TerraformError(f"{directory}: terraform show -json exited with {shown.returncode}:\n"
                             f"{(shown.stderr or shown.stdout).strip()}")
    return shown.stdout


def show_json(directory: Path, *args: str) -> Any:
    """``terraform show -json [ARGS]`` in ``directory``, parsed."""
    import json

    with environment() as env:
        return json.loads(show(directory, env, *args))


def validate(module: Path) -> list[str]:
    """``fmt -check``, ``init -backend=false`` and ``validate`` in a scratch copy of ``module``.

    Returns one line per problem; empty when terraform accepts the module.
    """
    problems: list[str] = []
    with environment() as env, tempfile.TemporaryDirectory(prefix="tfgen-validate-") as scratch:
        work = Path(scratch)
        for source in sorted(module.glob("*.tf")):
            shutil.copy2(source, work / source.name)
        packages = module / "packages"
        if packages.is_dir():
            shutil.copytree(packages, work / "packages")
        fmt = run(["fmt", "-check", "-diff", "-no-color"], work, env, capture=True)
        if fmt.returncode != 0:
            problems.append(f"{module}: terraform fmt -check: not canonical:\n{fmt.stdout.strip()}")
        init = run(["init", "-backend=false", "-input=false", "-no-color"], work, env, capture=True)
        if init.returncode != 0:
            problems.append(f"{module}: terraform init failed:\n{(init.stderr or init.stdout).strip()}")
            return problems
        result = run(["validate", "-no-color"], work, env, capture=True)
        if result.returncode != 0:
            problems.append(f"{module}: terraform validate:\n{(result.stderr or result.stdout).strip()}")
    return problems
