"""A stand-in terraform for release tests: one deployed payment_validation whose state it keeps.

Run as ``python fake_stack.py ARGS`` in the rendered module (``FAKE_STACK_STATE``: the state file,
address -> values; ``FAKE_STACK_ENVS``: the environments directory; ``FAKE_STACK_LOG``: each
command line is appended). ``plan -out=FILE`` compares what the environment file asks for (the
aliases' versions, the listener weights) and the packaged code's digest with the state, and writes
the plan JSON (tests.deploy.review.test_serving's shape) into FILE, a zip archive shaped as
terraform's (its ``tfplan`` entry, and the configuration read under ``tfconfig/m-/``, which tfgen
compares with what it rendered); ``show -json [FILE]`` prints that plan or the state; ``apply FILE``
applies it: a code change publishes the next version.
``FAKE_STACK_EXTRA`` names one more resource the plan updates (a change beyond the release).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.deploy.review.test_serving import FN, PV, RULE, UNKNOWN, alias, plan, rule, stack
from tfgen.config import environment


def initial(code_hash: str) -> dict[str, dict[str, Any]]:
    """Deployed and pinned: blue and green on version 1, 90/10, the code of ``code_hash``."""
    state = stack(blue=("1", 90), green=("1", 10), latest="1")
    state[FN]["source_code_hash"] = code_hash
    return state


def code_hash_of(module: Path) -> str:
    return hashlib.sha256((module / "packages" / f"{PV}.zip").read_bytes()).hexdigest()


def code_hash() -> str:
    return code_hash_of(Path.cwd())


def _load() -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = json.loads(Path(os.environ["FAKE_STACK_STATE"]).read_text())
    return state


def _plan() -> dict[str, Any]:
    state = _load()
    traffic = getattr(environment.load(Path(os.environ["FAKE_STACK_ENVS"]), "dev").model.lambda_.functions, PV).traffic
    changes: dict[str, tuple[list[str], Any]] = {}
    publishes = code_hash() != state[FN]["source_code_hash"]
    if publishes:
        changes[FN] = ["update"], {**state[FN], "source_code_hash": code_hash(), "version": UNKNOWN}
    for colour in ("blue", "green"):
        wanted = getattr(traffic, f"{colour}_version")
        version = (UNKNOWN if publishes else state[FN]["version"]) if wanted == "latest" else wanted
        if version != state[alias(colour)]["function_version"]:
            changes[alias(colour)] = ["update"], {**state[alias(colour)], "function_version": version}
    if rule(traffic.blue_weight, traffic.green_weight) != state[RULE]:
        changes[RULE] = ["update"], rule(traffic.blue_weight, traffic.green_weight)
    extra = os.environ.get("FAKE_STACK_EXTRA")
    if extra:
        changes[extra] = ["update"], {"tags": {"changed": "yes"}}
    return plan(state, changes)


def _apply(document: dict[str, Any]) -> None:
    state = _load()
    for rc in document["resource_changes"]:
        if rc["change"]["actions"] != ["update"]:
            continue
        after = dict(rc["change"]["after"])
        if rc["address"] == FN and "version" not in after:
            after["version"] = str(int(state[FN]["version"]) + 1)
        state[rc["address"]] = after
    for colour in ("blue", "green"):
        state[alias(colour)].setdefault("function_version", state[FN]["version"])
    Path(os.environ["FAKE_STACK_STATE"]).write_text(json.dumps(state))


def _shown_state() -> dict[str, Any]:
    resources = []
    for address, values in _load().items():
        kind, rest = address.split(".", 1)
        name, _, index = rest.partition("[")
        entry = {"address": address, "mode": "managed", "type": kind, "name": name, "values": values}
        if index:
            entry["index"] = json.loads(index.rstrip("]"))
        resources.append(entry)
    return {"format_version": "1.0", "values": {"root_module": {"resources": resources}}}


def _plan_file(document: dict[str, Any], directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tfplan", json.dumps(document))
        archive.writestr("tfconfig/modules.json", '[{"Key": "", "Dir": "."}]')
        for path in sorted(directory.iterdir()):
            if path.name.endswith((".tf", ".tf.json")) and not path.name.startswith(".") and path.is_file():
                archive.writestr(f"tfconfig/m-/{path.name}", path.read_bytes())
    return buffer.getvalue()


def _read_plan(path: str) -> str:
    with zipfile.ZipFile(path) as archive:
        return archive.read("tfplan").decode()


def main(args: list[str]) -> int:
    with open(os.environ["FAKE_STACK_LOG"], "a", encoding="utf-8") as log:
        log.write(" ".join(args) + "\n")
    files = [a for a in args[1:] if not a.startswith("-")]
    if args[0] == "plan":
        [out] = [a.removeprefix("-out=") for a in args if a.startswith("-out=")]
        Path(out).write_bytes(_plan_file(_plan(), Path.cwd()))
        print("Plan: changes")
    elif args[0] == "show":
        print(_read_plan(files[0]) if files else json.dumps(_shown_state()))
    elif args[0] == "apply":
        _apply(json.loads(_read_plan(files[-1])))
        print("Apply complete!")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
