"""Rendering a drift report (tfgen.deploy.review.drift): text (coloured on a terminal), markdown (an
issue or a job summary), and its JSON document."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tfgen.deploy.review.drift import CLASSES, SERIOUS, Drifted, DriftReport

_COLOURS = {"red": "31", "yellow": "33", "green": "32", "bold": "1"}
_LIMIT = 200


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= _LIMIT else text[:_LIMIT - 3] + "..."


def _finding(item: Any) -> str:
    if isinstance(item, dict) and set(item) == {"kind", "added"}:
        return f"{item['kind']}: " + "; ".join(
            ("no longer denies: " + json.dumps(part["Removed"], sort_keys=True)) if isinstance(part, dict)
            and set(part) == {"Removed"} else part if isinstance(part, str) else "adds " + json.dumps(
                part, sort_keys=True) for part in item["added"])
    return str(item)


def _summary(report: DriftReport) -> str:
    if not report.drift:
        return "no drift: AWS matches the reviewed state"
    objects = len({d.address for d in report.drifted})
    counts = ", ".join(f"{len(report.of(c))} {c}" for c in CLASSES if report.of(c))
    unjudged = f"; {len(report.unjudged)} not judged" if report.unjudged else ""
    return f"drift found: {objects} object(s) differ from the reviewed state ({counts or 'none judged'}{unjudged})"


def _filtered(report: DriftReport) -> str:
    reasons = Counter(f.reason for f in report.filtered)
    return f"filtered: {len(report.filtered)} attribute(s) (" + \
        "; ".join(f"{reason} x{n}" for reason, n in sorted(reasons.items())) + ")"


def _entry_lines(entry: Drifted) -> list[str]:
    lines = [f"{'deleted' if entry.action == 'delete' else 'changed'} {entry.address}"]
    lines += [f"  {_finding(item)}" for item in entry.findings]
    lines += [f"  {d.path}: live {_value(d.live)}, reviewed {_value(d.reviewed)}" for d in entry.differences]
    return lines


def render_text(report: DriftReport, color: bool = False) -> str:
    def paint(text: str, colour: str) -> str:
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if color else text

    lines = [paint(f"{report.env}: {_summary(report)}", "bold" if report.drift else "green")]
    for category in CLASSES:
        entries = report.of(category)
        if entries:
            lines.append(paint(f"{category}:", "red" if category in SERIOUS else "bold"))
            lines += [f"  {line}" for entry in entries for line in _entry_lines(entry)]
    if report.unjudged:
        lines.append(paint("not judged (counted as drift):", "red"))
        lines += [f"  {line}" for line in report.unjudged]
    if report.filtered:
        lines.append(_filtered(report))
    return "\n".join(lines) + "\n"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DriftReport) -> str:
    out = [f"### tfgen drift: `{report.env}`", "", _summary(report)]
    for category in CLASSES:
        entries = report.of(category)
        if not entries:
            continue
        out += ["", f"#### {':warning: ' if category in SERIOUS else ''}{category.capitalize()}", "",
                "| object | what | attribute | live | reviewed |", "|---|---|---|---|---|"]
        for entry in entries:
            what = _cell("; ".join(_finding(item) for item in entry.findings)) or "-"
            for index, d in enumerate(entry.differences):
                first = index == 0
                out.append(f"| {f'`{entry.address}`' if first else ''} | {what if first else ''} | `{_cell(d.path)}` "
                           f"| `{_cell(_value(d.live))}` | `{_cell(_value(d.reviewed))}` |")
    if report.unjudged:
        out += ["", "#### :no_entry: Not judged (counted as drift)", ""] + [f"- {_cell(u)}" for u in report.unjudged]
    if report.filtered:
        out += ["", f"<sub>{_cell(_filtered(report))}</sub>"]
    return "\n".join(out) + "\n"


def render_json(report: DriftReport) -> str:
    return json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n"
