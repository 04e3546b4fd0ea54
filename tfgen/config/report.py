"""Human-readable views of configuration: the environments table and ``show``."""

from __future__ import annotations

from typing import Any

import yaml

from tfgen.config.environment import Loaded
from tfgen.config.layers import KeyPath, Origin


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def environments_table(envs: list[Loaded]) -> str:
    rows = [["ENV", "REGION", "AZS", "NAT", "AURORA", "ACU", "DELETION-PROTECTION", "BACKEND", "TRAFFIC blue/green"]]
    for loaded in envs:
        cfg = loaded.model
        net, db = cfg.network, cfg.database
        functions = cfg.lambda_.functions
        weights = sorted({f"{fn.traffic.blue_weight}/{fn.traffic.green_weight}"
                          for fn in (getattr(functions, k) for k in type(functions).model_fields)})
        rows.append([
            loaded.name, cfg.region, str(len(net.availability_zones)),
            "1 shared" if net.single_nat_gateway else f"{len(net.availability_zones)} (per AZ)",
            f"1 writer + {db.reader_count} reader(s)", f"{db.min_capacity:g}-{db.max_capacity:g}",
            "on" if db.deletion_protection else "off", cfg.terraform.backend, ",".join(weights),
        ])
    return table(rows)


def _annotated(value: Any, path: KeyPath, origins: dict[KeyPath, Origin], indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    for key in sorted(value) if isinstance(value, dict) else []:
        child = value[key]
        child_path = (*path, key)
        where = origins.get(child_path)
        note = f"  # {where}" if where else "  # default"
        if isinstance(child, dict) and child:
            lines.append(f"{pad}{key}:{note}")
            lines.extend(_annotated(child, child_path, origins, indent + 1))
        else:
            text = yaml.safe_dump(child, default_flow_style=True, width=10**6).strip()
            text = text.removesuffix("\n...").removesuffix(" ...").strip()
            lines.append(f"{pad}{key}: {text}{note}")
    return lines


def show_config(loaded: Loaded, provenance: bool) -> str:
    """The merged, validated configuration as YAML, defaults filled in."""
    data = loaded.model.model_dump(mode="json", by_alias=True)
    if not provenance:
        return yaml.safe_dump(data, sort_keys=True, default_flow_style=False)
    return "\n".join(_annotated(data, (), loaded.config.origins, 0)) + "\n"
