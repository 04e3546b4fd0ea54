"""Machine-readable views: the JSON documents ``--format json`` prints.

Each document's shape is published as a JSON Schema in docs/json/ (a test
validates every command's output against it). Keys are snake_case, sorted, and
only ever added to; text output stays the default.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfgen.config.environment import Loaded
    from tfgen.deploy.traffic import View
    from tfgen.deploy.validation import Validated


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True)


def environments(envs: list[Loaded]) -> dict[str, Any]:
    """``tfgen envs --format json``: the settings the table shows, typed."""
    rows = []
    for loaded in envs:
        cfg = loaded.model
        net, db = cfg.network, cfg.database
        functions = cfg.lambda_.functions
        rows.append({
            "name": loaded.name,
            "region": cfg.region,
            "availability_zones": list(net.availability_zones),
            "nat_gateways": net.nat_gateways,
            "aurora_readers": db.reader_count,
            "min_capacity": db.min_capacity,
            "max_capacity": db.max_capacity,
            "deletion_protection": db.deletion_protection,
            "backend": cfg.terraform.backend,
            "traffic": {key: {"blue_weight": fn.traffic.blue_weight, "green_weight": fn.traffic.green_weight}
                        for key in type(functions).model_fields for fn in [getattr(functions, key)]},
        })
    return {"environments": rows}


def check(results: list[tuple[str, list[str]]], schema_problems: list[str]) -> dict[str, Any]:
    """``tfgen check --format json``: per environment, one line per stale, missing, edited or
    orphaned file; and the checked-in JSON Schema's problems."""
    envs = [{"name": name, "current": not lines, "problems": lines} for name, lines in results]
    return {"ok": all(env["current"] for env in envs) and not schema_problems,
            "environments": envs, "schema_problems": schema_problems}


def validate(results: list[Validated], terraform: bool) -> dict[str, Any]:
    """``tfgen validate --format json``: per environment, the checks that ran and the problems found."""
    envs = [{"name": r.env, "ok": not r.problems, "checks": list(r.checks), "problems": r.problems}
            for r in results]
    return {"ok": all(env["ok"] for env in envs), "terraform": terraform, "environments": envs}


def traffic(view: View) -> dict[str, Any]:
    """``tfgen traffic ENV --format json``: each function's aliases and weights, and the output's state."""
    return {
        "environment": view.env,
        "output": view.output,
        "target": str(view.target),
        "functions": {key: {"blue_version": s.blue_version, "green_version": s.green_version,
                            "blue_weight": s.blue_weight, "green_weight": s.green_weight}
                      for key, s in view.splits.items()},
    }
