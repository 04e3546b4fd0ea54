"""The configuration a saved plan file was made from, and whether it is the configuration tfgen rendered.

A saved plan (``terraform plan -out=FILE``) is a zip archive. Beside the plan, terraform keeps in it
the configuration it planned, as it read it: ``tfconfig/modules.json`` and each module's files under
``tfconfig/m-KEY/``; the root module's key is empty (``tfconfig/m-/network.tf``). A process that edits
a ``.tf`` file while terraform reads it and restores it afterwards leaves a rendered tree that is
current and a plan of other configuration: only the plan file tells. Variable values are not files
in it (terraform keeps the values of ``*.tfvars`` in the plan itself), and tfgen's root modules
declare no variables.

Nothing here reads files or runs terraform: the plan file's bytes and the manifest's files come in,
lines to refuse by come out.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Mapping

CONFIG_PREFIX = "tfconfig/"
ROOT_PREFIX = f"{CONFIG_PREFIX}m-/"
MODULES_FILE = f"{CONFIG_PREFIX}modules.json"
# The files of a root module that are configuration: what the plan file holds of it.
CONFIGURATION_SUFFIXES = (".tf", ".tf.json")
NOT_RENDERED = "the plan was made from configuration tfgen did not render"
_SHORT = 12
_CHUNK = 1 << 16


def embedded(data: bytes) -> dict[str, str]:
    """The configuration held in the saved plan file ``data``: each file under ``tfconfig/`` but
    ``modules.json``, by its path there, with the sha256 of its content. ValueError when ``data`` is
    not a zip archive, names a file twice or a file in it cannot be read."""
    found: dict[str, str] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = info.filename
                if not name.startswith(CONFIG_PREFIX) or name == MODULES_FILE or info.is_dir():
                    continue
                if name in found:
                    raise ValueError(f"{name} is in it twice")
                digest = hashlib.sha256()
                with archive.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        digest.update(chunk)
                found[name] = digest.hexdigest()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError, EOFError, OSError,
            zlib.error) as exc:
        raise ValueError(f"not a plan file terraform saved ({exc})") from None
    return found


def rendered_configuration(files: Mapping[str, str]) -> dict[str, str]:
    """Of the manifest's ``files`` (path: sha256), the root module's configuration files."""
    return {name: digest for name, digest in files.items()
            if "/" not in name and name.endswith(CONFIGURATION_SUFFIXES)}


def differences(data: bytes, files: Mapping[str, str]) -> list[str]:
    """Every file in which the configuration the saved plan file ``data`` was made from is not the
    configuration in the manifest's ``files`` (path: sha256), one line each: a file the plan holds
    and tfgen did not render (in the root module or in any other module), a rendered file it does
    not hold, and one it holds with other content. A plan file that cannot be read is one line."""
    try:
        planned = embedded(data)
    except ValueError as exc:
        return [f"{NOT_RENDERED}: plan/tfplan: {exc}"]
    rendered = rendered_configuration(files)
    root = {name.removeprefix(ROOT_PREFIX): digest for name, digest in planned.items()
            if name.startswith(ROOT_PREFIX)}
    lines = []
    for name in sorted(set(root) | set(rendered)):
        if name not in rendered:
            lines.append(f"{NOT_RENDERED}: {name} is in the plan's configuration, and tfgen did not render it")
        elif name not in root:
            lines.append(f"{NOT_RENDERED}: {name}, rendered by tfgen, is not in the plan's configuration")
        elif root[name] != rendered[name]:
            lines.append(f"{NOT_RENDERED}: {name} was read by terraform with other content (sha256 "
                         f"{root[name][:_SHORT]}, rendered {rendered[name][:_SHORT]})")
    lines += [f"{NOT_RENDERED}: {name} is in the plan's configuration, and tfgen renders no module"
              for name in sorted(planned) if not name.startswith(ROOT_PREFIX)]
    return lines
