"""Rendering a plan review (tfgen.deploy.review): text (coloured on a terminal), markdown (a
pull-request comment), and the documented JSON document of one or more reviews."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from tfgen.deploy.review import ACTIONS, PUBLISHED, SCHEMA_VERSION, Alias, DataLoss, Review, catalogue

_COLOURS = {"red": "31", "yellow": "33", "green": "32", "bold": "1"}
_PARTIAL = "partial plan (-target): what it leaves out is judged as the state holds it"


def _after(alias: Alias) -> str:
    """The version the alias runs after the apply, marked when it has not served traffic yet."""
    if not alias.exists_after:
        return "(deleted)"
    if alias.publishes:
        return PUBLISHED
    if alias.version_after is None:
        return "known after apply"
    return alias.version_after + ("" if alias.served else " (not served yet)")


def _weight(value: int | None, before: bool = False) -> str:
    if value is None:
        return "unknown" if before else "known after apply"
    return f"{value} %"


def _versions(alias: Alias, arrow: str) -> str:
    """The alias's version, or its move as ``before ARROW after``."""
    if alias.exists_after and not alias.moves:
        return _after(alias)
    return f"{alias.version_before or '(none)'} {arrow} {_after(alias)}"


def _weights(alias: Alias, arrow: str) -> str:
    """The alias's weight, or its change as ``before ARROW after``."""
    if alias.weight_before == alias.weight_after:
        return _weight(alias.weight_after)
    return f"{_weight(alias.weight_before, True)} {arrow} {_weight(alias.weight_after)}"


def _alias_line(alias: Alias) -> str:
    unchanged = "" if alias.moves or not alias.exists_after else " (unchanged)"
    code = "; code changes" if alias.code_changes else ""
    return f"{alias.function} {alias.colour}: version {_versions(alias, '->')}{unchanged}, " \
           f"weight {_weights(alias, '->')}{code}"


def _traffic_lines(result: Review) -> list[str]:
    """Each changing function's table, what stops serving and its other changes; then the rest."""
    lines = []
    for s in result.traffic:
        if not s.changed:
            continue
        if s.first_deploy:
            lines.append(f"{s.function}: first deploy (nothing served before this apply)")
        lines += [_alias_line(a) for a in s.aliases]
        lines += [f"{s.function} stops serving: {outage}" for outage in s.outages]
        lines += [f"{s.function}: {change}" for change in s.changes]
    steady = [s.function for s in result.traffic if not s.changed]
    if steady and len(steady) < len(result.traffic):
        lines.append(f"unchanged: {', '.join(steady)}")
    lines += [f"every function: {change}" for change in result.shared_traffic]
    return lines


def _statement_text(item: Any) -> str:
    """One added part of an access gain: a note, a removed Deny, or what is added."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and set(item) == {"Removed"}:
        return "no longer denies: " + json.dumps(item["Removed"], sort_keys=True)
    return "adds " + json.dumps(item, sort_keys=True)


def _loss_action(loss: DataLoss) -> str:
    return f"{loss.action} (protection)" if loss.protection else loss.action


def _type_text(kind: str) -> str:
    """A resource type, with what it is when the catalogue says (``aws_rds_cluster_instance
    (database capacity: the cluster holds the data)``)."""
    note = catalogue.note(kind)
    return f"{kind} ({note})" if note else kind


def _sections(result: Review) -> list[tuple[str, str, list[str]]]:
    """(title, colour, lines) of each non-empty section, in reading order."""
    counts = ", ".join([f"{result.counts[a]} to {a}" for a in ACTIONS]
                       + ([f"{len(result.imports)} to import"] if result.imports else []))
    summary = [counts if result.changes else "no changes", *([_PARTIAL] if result.partial else [])]
    sections = [("changes", "bold", summary)]
    if result.data_loss:
        sections.append(("data loss", "red", [f"{_loss_action(d)} {d.address}: {'; '.join(d.reasons)}"
                                              for d in result.data_loss]))
    if result.detection_loss:
        sections.append(("detection reduced", "red", [f"{d.action} {d.address}: {'; '.join(d.reasons)}"
                                                      for d in result.detection_loss]))
    traffic = _traffic_lines(result)
    if traffic:
        sections.append(("live traffic", "yellow", traffic))
    if result.access:
        sections.append(("access", "yellow", [f"{g.action} {g.address} ({g.kind}): "
                                              + "; ".join(_statement_text(i) for i in g.added)
                                              for g in result.access]))
    if result.credentials:
        sections.append(("credentials", "red", list(result.credentials)))
    if result.credential_changes:
        sections.append(("credentials set by this apply", "yellow", list(result.credential_changes)))
    if result.imports:
        sections.append(("imports", "bold", list(result.imports)))
    if result.other:
        sections.append(("other changes", "bold", [
            f"{_type_text(kind)}: " + ", ".join(f"{n} {a}" for a, n in actions.items())
            for kind, actions in result.other.items()]))
    return sections


def render_text(result: Review, color: bool = False) -> str:
    def paint(text: str, colour: str) -> str:
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if color else text

    sha = f" (sha256 {result.plan_sha256})" if result.plan_sha256 else ""
    lines = [paint(f"{result.env}: plan {result.plan_file}{sha}", "bold")]
    for title, colour, body in _sections(result):
        lines.append(paint(f"{title}:", colour))
        lines += [f"  {line}" for line in body]
    refusals = result.refusals()
    if refusals:
        lines.append(paint("tfgen apply refuses this plan:", "red"))
        lines += [f"  {line}" for line in refusals]
    return "\n".join(lines) + "\n"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(result: Review) -> str:
    out = [f"### tfgen plan: `{result.env}`", ""]
    if result.plan_sha256:
        out += [f"plan file sha256 `{result.plan_sha256}`", ""]
    out.append("| " + " | ".join(ACTIONS) + " |")
    out.append("|" + "---:|" * len(ACTIONS))
    out.append("| " + " | ".join(str(result.counts[a]) for a in ACTIONS) + " |")
    if result.partial:
        out += ["", f"_{_PARTIAL}_"]
    if result.imports:
        out += ["", f"{len(result.imports)} to import (adoption): "
                + ", ".join(f"`{_cell(a)}`" for a in result.imports)]
    refusals = result.refusals()
    if refusals:
        out += ["", "**`tfgen apply` refuses this plan:**", ""] + [f"- {_cell(line)}" for line in refusals]
    if result.data_loss:
        out += ["", "#### :warning: Data loss", "", "| action | address | why |", "|---|---|---|"]
        out += [f"| {_loss_action(d)} | `{d.address}` | {_cell('; '.join(d.reasons))} |" for d in result.data_loss]
    if result.detection_loss:
        out += ["", "#### :warning: Detection reduced", "", "| action | address | why |", "|---|---|---|"]
        out += [f"| {d.action} | `{d.address}` | {_cell('; '.join(d.reasons))} |" for d in result.detection_loss]
    moving = [s for s in result.traffic if s.changed]
    if moving or result.shared_traffic:
        out += ["", "#### Live traffic"]
    if moving:
        out += ["", "| function | colour | version | weight | code changes |", "|---|---|---|---|---|"]
        out += [f"| {a.function}{' (first deploy)' if s.first_deploy else ''} | {a.colour}"
                f"{' :warning:' if s.risks else ''} | {_cell(_versions(a, '→'))} | {_weights(a, '→')} | "
                f"{'yes' if a.code_changes else 'no'} |" for s in moving for a in s.aliases]
        notes = [f"- :no_entry: {s.function} stops serving: {_cell(o)}" for s in moving for o in s.outages]
        notes += [f"- {s.function}: {_cell(c)}" for s in moving for c in s.changes]
        out += ["", *notes] if notes else []
    if result.shared_traffic:
        out += ["", *(f"- every function: {_cell(c)}" for c in result.shared_traffic)]
    if result.access:
        out += ["", "#### Access gained", ""]
        for g in result.access:
            out.append(f"- `{g.address}` ({g.kind}, {g.action}):")
            out += [f"  - `{_cell(_statement_text(i))}`" for i in g.added]
    if result.credentials or result.credential_changes:
        out += ["", "#### Credentials", ""] + [f"- {_cell(line)}" for line in
                                               [*result.credentials, *result.credential_changes]]
    if result.other:
        out += ["", "<details><summary>Other changes</summary>", "", "| type | changes |", "|---|---|"]
        out += [f"| `{kind}`{_cell(_type_text(kind)[len(kind):])} | "
                + ", ".join(f"{n} {a}" for a, n in actions.items()) + " |" for kind, actions in result.other.items()]
        out += ["", "</details>"]
    digest = result.rendered_digest[:12] if result.rendered_digest else "-"
    out += ["", f"<sub>plan `{result.plan_file}`, rendered tree `{digest}`</sub>"]
    return "\n".join(out) + "\n"


def render_json(results: Iterable[Review]) -> str:
    """A JSON document: ``{"schema_version": SCHEMA_VERSION, "plans": [review, ...]}``."""
    return "".join(json_chunks(results))


def json_chunks(results: Iterable[Review]) -> Iterator[str]:
    """``render_json``'s document one review at a time, as ``json.dumps(indent=2, sort_keys=True)``
    writes it, so that ``plan --all`` holds one review, not all of them."""
    opening = '{\n  "plans": [\n    '
    for result in results:
        yield opening + json.dumps(result.as_json(), indent=2, sort_keys=True).replace("\n", "\n    ")
        opening = ",\n    "
    yield ('{\n  "plans": [],\n' if opening.startswith("{") else "\n  ],\n") + \
        f'  "schema_version": {SCHEMA_VERSION}\n}}\n'
