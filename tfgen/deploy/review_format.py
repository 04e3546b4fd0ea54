"""Rendering a plan review (tfgen.deploy.review): text (coloured on a terminal), markdown (a
pull-request comment), and the documented JSON document of one or more reviews."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from tfgen.deploy.review import ACTIONS, PUBLISHED, SCHEMA_VERSION, Alias, Review

_COLOURS = {"red": "31", "yellow": "33", "green": "32", "bold": "1"}


def _version(value: str | None, before: bool = False) -> str:
    if value is None:
        return "(none)" if before else PUBLISHED
    return value


def _weight(value: int | None, before: bool = False) -> str:
    if value is None:
        return "(none)" if before else "known after apply"
    return f"{value} %"


def _versions(alias: Alias, arrow: str) -> str:
    """The alias's version, or its move as ``before ARROW after``."""
    if not alias.moves:
        return _version(alias.version_after)
    return f"{_version(alias.version_before, True)} {arrow} {_version(alias.version_after)}"


def _weights(alias: Alias, arrow: str) -> str:
    """The alias's weight, or its change as ``before ARROW after``."""
    if alias.weight_before == alias.weight_after:
        return _weight(alias.weight_after)
    return f"{_weight(alias.weight_before, True)} {arrow} {_weight(alias.weight_after)}"


def _alias_line(alias: Alias) -> str:
    unchanged = "" if alias.moves else " (unchanged)"
    code = "; code changes" if alias.code_changes else ""
    return f"{alias.function} {alias.colour}: version {_versions(alias, '->')}{unchanged}, " \
           f"weight {_weights(alias, '->')}{code}"


def _statement_text(item: Any) -> str:
    return item if isinstance(item, str) else json.dumps(item, sort_keys=True)


def _sections(result: Review) -> list[tuple[str, str, list[str]]]:
    """(title, colour, lines) of each non-empty section, in reading order."""
    counts = ", ".join(f"{result.counts[a]} to {a}" for a in ACTIONS)
    sections = [("changes", "bold", [counts if result.changes else "no changes"])]
    if result.data_loss:
        sections.append(("data loss", "red", [f"{d.action} {d.address}: {'; '.join(d.reasons)}"
                                              for d in result.data_loss]))
    moving = [a for a in result.traffic if a.changed]
    if moving:
        lines = [_alias_line(a) + (f"  <- {a.novelty} on live traffic outside green" if a.risk else "")
                 for a in moving]
        steady = sorted({a.function for a in result.traffic} - {a.function for a in moving})
        if steady:
            lines.append(f"unchanged: {', '.join(steady)}")
        sections.append(("live traffic", "yellow", lines))
    if result.access:
        sections.append(("access", "yellow", [f"{g.action} {g.address} ({g.kind}) adds: "
                                              + "; ".join(_statement_text(i) for i in g.added)
                                              for g in result.access]))
    if result.credentials:
        sections.append(("credentials", "red", list(result.credentials)))
    if result.other:
        sections.append(("other changes", "bold", [
            f"{kind}: " + ", ".join(f"{n} {a}" for a, n in actions.items()) for kind, actions in result.other.items()]))
    return sections


def render_text(result: Review, color: bool = False) -> str:
    def paint(text: str, colour: str) -> str:
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if color else text

    lines = [paint(f"{result.env}: plan {result.plan_file}", "bold")]
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
    out.append("| create | update | replace | delete |")
    out.append("|---:|---:|---:|---:|")
    out.append("| " + " | ".join(str(result.counts[a]) for a in ACTIONS) + " |")
    refusals = result.refusals()
    if refusals:
        out += ["", "**`tfgen apply` refuses this plan:**", ""] + [f"- {_cell(line)}" for line in refusals]
    if result.data_loss:
        out += ["", "#### :warning: Data loss", "", "| action | address | why |", "|---|---|---|"]
        out += [f"| {d.action} | `{d.address}` | {_cell('; '.join(d.reasons))} |" for d in result.data_loss]
    moving = [a for a in result.traffic if a.changed]
    if moving:
        out += ["", "#### Live traffic", "", "| function | colour | version | weight | code changes |",
                "|---|---|---|---|---|"]
        out += [f"| {a.function} | {a.colour}{' :warning:' if a.risk else ''} | {_versions(a, '→')} | "
                f"{_weights(a, '→')} | {'yes' if a.code_changes else 'no'} |" for a in moving]
    if result.access:
        out += ["", "#### Access gained", ""]
        for g in result.access:
            out.append(f"- `{g.address}` ({g.kind}, {g.action}):")
            out += [f"  - `{_cell(_statement_text(i))}`" for i in g.added]
    if result.credentials:
        out += ["", "#### Credentials", ""] + [f"- {_cell(line)}" for line in result.credentials]
    if result.other:
        out += ["", "<details><summary>Other changes</summary>", "", "| type | changes |", "|---|---|"]
        out += [f"| `{kind}` | " + ", ".join(f"{n} {a}" for a, n in actions.items()) + " |"
                for kind, actions in result.other.items()]
        out += ["", "</details>"]
    digest = result.rendered_digest[:12] if result.rendered_digest else "-"
    out += ["", f"<sub>plan `{result.plan_file}`, rendered tree `{digest}`</sub>"]
    return "\n".join(out) + "\n"


def render_json(results: Iterable[Review]) -> str:
    """A JSON document: ``{"schema_version": 1, "plans": [review, ...]}``."""
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
