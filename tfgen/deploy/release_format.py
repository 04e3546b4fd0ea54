"""A release's report as text, markdown or JSON: what moved, when, and each step's judgement with
its figures (evidence for change control)."""

from __future__ import annotations

import json

from tfgen.deploy.release import Report

TITLES = {"released": "released", "rolled_back": "FAILED, rolled back", "stopped": "STOPPED, not promoted",
          "nothing": "nothing to release"}


def render_json(report: Report) -> str:
    return json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n"


def _lines(report: Report) -> list[tuple[str, list[str]]]:
    """(heading, details) per record."""
    rows = []
    for record in report.records:
        if record.judgement is None:
            moved = [f"{k}: blue {s.blue_version} {s.blue_weight} %, green {s.green_version} {s.green_weight} %"
                     for k, s in sorted(record.splits.items())]
            weight = f" {record.weight} %" if record.weight is not None else ""
            rows.append((f"{record.action}{weight}: applied {record.ended}", moved))
        else:
            judgement = record.judgement
            details = [f"{f.outcome}: {f}" for f in judgement.findings] + [f"ok: {c}" for c in judgement.checks]
            rows.append((f"bake {record.weight} %: {judgement.outcome} after {record.bake_s:g} s "
                         f"({record.started} to {record.ended})", details))
    return rows


def render_text(report: Report) -> str:
    out = [f"release {report.env}: {TITLES[report.result]}", f"  {report.message}"]
    if report.versions:
        out.append("  versions: " + ", ".join(f"{k} {v}" for k, v in sorted(report.versions.items())))
    out.append("  steps: " + ", ".join(f"{w} %" for w in report.steps))
    for heading, details in _lines(report):
        out.append(f"  {heading}")
        out += [f"    {line}" for line in details]
    return "\n".join(out) + "\n"


def render_markdown(report: Report) -> str:
    out = [f"### Release of `{report.env}`: {TITLES[report.result]}", "", report.message, ""]
    if report.versions:
        out += ["| function | version |", "|---|---|"]
        out += [f"| `{k}` | {v} |" for k, v in sorted(report.versions.items())] + [""]
    out.append("Steps: " + ", ".join(f"{w} %" for w in report.steps))
    out.append("")
    for heading, details in _lines(report):
        out.append(f"- **{heading}**")
        out += [f"  - {line}" for line in details]
    return "\n".join(out) + "\n"
