"""The adoption record of an environment, ``environments/adopt/ENV.json``, and what it renders.

``tfgen adopt ENV --state FILE`` writes it; it is an input of ENV's render like the environment
file (its bytes are in the input digest), so commit it with the environment. It holds:

- ``imports``: tfgen's address -> the import id of the existing object it adopts. While
  ``applied`` is false, the render writes them as ``import`` blocks into ``OUT/ENV/imports.tf``
  (a generated file, listed in the manifest). ``tfgen apply ENV`` sets ``applied`` once the
  apply that carried them succeeds; the next render leaves ``imports.tf`` out.
- ``credentials``: ``kept`` (the default) or ``rotated``. An adopted stack keeps the live
  database password and secret: the cluster's ``master_password_wo_version``, the secret
  version's ``secret_string_wo_version`` and the rotation's ``rotate_immediately`` are rendered
  under ``lifecycle { ignore_changes }`` for as long as the record says ``kept``, so neither the
  adoption nor a later apply resets the master password, replaces the secret's value or starts a
  rotation. ``rotated`` (``tfgen adopt --rotate-credentials``) renders the environment as tfgen
  renders a stack it created: the apply sets a new master password on the cluster and writes it
  into a new secret version; the rotation keeps its schedule (provider 5.100 sends
  ``rotate_immediately`` only with a change of the rotation function or rules). The review says
  so (``Review.credential_changes``).
- While credentials are ``kept``, ``database.master_password_version`` changes nothing: the
  password version is under ``ignore_changes``. The rotation function changes the password; to
  have an apply set one, change ``credentials`` to ``rotated`` in the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfgen.errors import ConfigError
from tfgen.render import hcl

DIRECTORY = "adopt"
IMPORTS_FILE = "imports.tf"
KEPT = "kept"
ROTATED = "rotated"

# A resource instance address as an import block's ``to`` takes it: module calls, then a managed
# resource's type (provider prefix) and name, each with at most one plain key; nothing else is
# written into imports.tf.
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEY = r'(?:\["[A-Za-z0-9_.:/@+=-]*"\]|\[[0-9]+\])'
ADDRESS = re.compile(rf"(?:module\.{_NAME}{_KEY}?\.)*[a-z][a-z0-9]*_[a-z0-9_]+\.{_NAME}{_KEY}?")


@dataclass(frozen=True)
class Adoption:
    imports: Mapping[str, str] = field(default_factory=dict)
    credentials: str = KEPT
    applied: bool = False

    @property
    def keep_credentials(self) -> bool:
        return self.credentials == KEPT

    def as_json(self) -> dict[str, Any]:
        return {"imports": dict(sorted(self.imports.items())), "credentials": self.credentials,
                "applied": self.applied}


def path(env_dir: Path, env: str) -> Path:
    return env_dir / DIRECTORY / f"{env}.json"


def read(env_dir: Path, env: str) -> Adoption | None:
    """The environment's adoption record; None when it was never adopted."""
    where = path(env_dir, env)
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError([f"{where}: unreadable adoption record: {exc}"]) from None
    if not isinstance(data, dict):
        data = {}
    imports, credentials, applied = data.get("imports"), data.get("credentials"), data.get("applied")
    if (not isinstance(imports, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in imports.items())
            or credentials not in (KEPT, ROTATED) or not isinstance(applied, bool)):
        raise ConfigError([f"{where}: an adoption record has imports (address: id), credentials "
                           f"({KEPT} or {ROTATED}) and applied (true or false)"])
    adopted = Adoption(imports, credentials, applied)
    bad = problems(adopted, str(where))
    if bad:
        raise ConfigError(bad)
    return adopted


def problems(adoption: Adoption, where: str) -> list[str]:
    """One line per import whose address is not a resource instance address (``where``: the
    record's file)."""
    return [f"{where}: imports: {json.dumps(address)}: expected a resource address such as "
            'aws_kms_key.this["s3"] or module.net.aws_subnet.private[0]'
            for address in sorted(adoption.imports) if not ADDRESS.fullmatch(address)]


def write(env_dir: Path, env: str, adoption: Adoption | None) -> None:
    """Write (or, with None, remove) the environment's adoption record."""
    where = path(env_dir, env)
    if adoption is None:
        where.unlink(missing_ok=True)
        return
    where.parent.mkdir(exist_ok=True)
    text = json.dumps(adoption.as_json(), indent=2) + "\n"
    if not where.is_file() or where.read_text(encoding="utf-8") != text:
        where.write_text(text, encoding="utf-8")


def imports_tf(adoption: Adoption) -> str:
    """The ``import`` blocks of a record not yet applied: each address checked (``problems``),
    each id an HCL string literal."""
    bad = problems(adoption, f"{DIRECTORY}/ENV.json")
    if bad:
        raise ConfigError(bad)
    lines = ["# Generated by tfgen from environments/adopt/ENV.json (tfgen adopt). Removed by the",
             "# first render after the apply that imports these objects.", ""]
    for address, import_id in sorted(adoption.imports.items()):
        lines += ["import {", f"  to = {address}", f"  id = {hcl.string(import_id)}", "}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
