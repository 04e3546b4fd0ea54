"""The Jinja environment, and rendering one environment to ``{path: bytes}``.

Templates hold loops and conditionals; the values they need are computed
here. Every value from configuration reaches HCL through the ``hcl`` filter.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from tfgen import __version__, hcl
from tfgen import names as naming
from tfgen.environment import Loaded
from tfgen.errors import RenderError

if TYPE_CHECKING:
    from tfgen.package import BuiltPackage

TEMPLATE_SUFFIX = ".tf.j2"
MANIFEST = ".tfgen-manifest.json"


@dataclass(frozen=True)
class Rendered:
    """One environment's rendered root module, not yet written anywhere."""

    env: str
    files: dict[str, bytes]
    config_digest: str

    @property
    def resource_count(self) -> int:
        return sum(text.count(b'\nresource "') + text.startswith(b'resource "')
                   for path, text in self.files.items() if path.endswith(".tf"))


def _strict(func: Callable[..., str]) -> Callable[..., str]:
    """A filter that raises Jinja's undefined error instead of rendering an Undefined."""

    def apply(value: Any, *args: Any) -> str:
        if isinstance(value, jinja2.Undefined):
            value._fail_with_undefined_error()
        return func(value, *args)

    return apply


@lru_cache(maxsize=None)
def jinja_env(template_dir: Path) -> jinja2.Environment:
    """The one Jinja environment for ``template_dir``, built once per process."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["hcl"] = _strict(hcl.literal)
    env.filters["hcl_key"] = hcl.key
    env.filters["hcl_object"] = _strict(hcl.multiline)
    env.filters["hcl_attributes"] = _strict(hcl.attributes)
    return env


def template_names(template_dir: Path) -> list[str]:
    """The templates that produce files: ``<name>.tf.j2``, not partials starting with ``_``."""
    return sorted(p.name for p in template_dir.glob(f"*{TEMPLATE_SUFFIX}")
                  if not p.name.startswith("_"))


def config_digest(loaded: Loaded) -> str:
    payload = json.dumps(loaded.model.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(f"{loaded.name}\n{payload}".encode()).hexdigest()


def context(loaded: Loaded) -> dict[str, Any]:
    """What the templates see: the model, derived names and per-zone facts."""
    cfg = loaded.model
    net = cfg.network
    zones = [
        {"key": str(index), "index": index, "az": az,
         "public": net.public_subnets[index], "private": net.private_subnets[index],
         "database": net.database_subnets[index]}
        for index, az in enumerate(net.availability_zones)
    ]
    tags = {"Environment": loaded.name, "Project": cfg.project, "ManagedBy": "tfgen", **cfg.tags}
    return {
        "env": loaded.name,
        "cfg": cfg,
        "names": naming.names(loaded.name, cfg),
        "zones": zones,
        "nat_keys": [zones[0]["key"]] if net.single_nat_gateway else [z["key"] for z in zones],
        "default_tags": tags,
        "tfgen_version": __version__,
    }


def packages(loaded: Loaded, lambda_dir: Path | None) -> dict[str, BuiltPackage]:
    """Each function's deployment package, built reproducibly (or read from the cache)."""
    if lambda_dir is None:
        return {}
    cfg = loaded.model.lambda_
    return _packages(lambda_dir, cfg.runtime, cfg.architecture)


@lru_cache(maxsize=8)
def _packages(lambda_dir: Path, runtime: str, architecture: str) -> dict[str, BuiltPackage]:
    """Packages depend only on the sources, runtime and architecture: built once per process."""
    from tfgen.package import PackageSpec, build_package

    built = {}
    for key in (*naming.FUNCTION_KEYS, naming.ROTATION_KEY):
        source = lambda_dir / key
        requirements = source / "requirements.txt"
        sources = (source,) if key == naming.ROTATION_KEY else (source, lambda_dir / "common")
        spec = PackageSpec(name=key, sources=sources,
                           requirements=requirements if requirements.is_file() else None,
                           runtime=runtime, architecture=architecture)
        built[key] = build_package(spec, cache_dir())
    return built


def cache_dir() -> Path:
    root = os.environ.get("TFGEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tfgen")
    return Path(root) / "packages"


def render(loaded: Loaded, template_dir: Path, lambda_dir: Path | None = None) -> Rendered:
    """Render every template (and build every package) for one environment, in memory."""
    env = jinja_env(template_dir)
    ctx = context(loaded)
    built = packages(loaded, lambda_dir)
    ctx["packages"] = {key: {"filename": f"packages/{key}.zip", "source_code_hash": pkg.source_code_hash}
                       for key, pkg in built.items()}
    files: dict[str, bytes] = {f"packages/{key}.zip": pkg.data for key, pkg in built.items()}
    for name in template_names(template_dir):
        try:
            text = env.get_template(name).render(ctx)
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            where = f"{name}:{exc.lineno}" if getattr(exc, "lineno", None) else name
            raise RenderError(f"templates/{where}: {type(exc).__name__}: {exc}") from None
        files[name[: -len(".j2")]] = _normalise(text).encode()
    return Rendered(env=loaded.name, files=files, config_digest=config_digest(loaded))


def _normalise(text: str) -> str:
    """LF endings, no trailing blanks, runs of blank lines folded, one final newline."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
