"""The report's sections beyond the verdict: guardrail, cost, setup effort and consistency.

Each section is a JSON-ready dict (a top-level key of the report contract, built by
:func:`collect_sections` from the database) and renders on its own as Markdown or HTML from that
dict alone, so a stored report renders the same way. A section that could not be measured is
``{"error": "..."}`` and says so instead of breaking the report.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

__all__ = ["SECTION_KEYS", "collect_sections", "sections_html", "sections_markdown"]

logger = logging.getLogger(__name__)

SECTION_KEYS = ("guardrail", "cost", "setup_effort", "consistency")
"""New top-level keys of the report JSON, in the order the report shows them."""


def fmt(value: Any) -> str:
    """A figure for people: thousands separated, three significant digits below 100."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    number = float(value)
    if abs(number) >= 100:
        return f"{number:,.0f}"
    if number == 0:
        return "0"
    return f"{number:.3g}"


def _table_md(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _table_html(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- guardrail -----------------------------------------------------------------------------------


GUARD_HEADERS = ["arm", "metric", "candidate", "control", "estimate", "anytime-valid bound", "limit", "state"]


def _guard_rows(section: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for c in section.get("checks", []):
        failure = c["metric"] == "failure_rate"

        def show(v: Any, failure: bool = failure) -> str:
            if v is None:
                return "-"
            return f"{v * 100:.1f}%" if failure else f"{fmt(v)} ms"

        interval = c.get("interval") or [None]
        bound = interval[0]
        rows.append(
            [
                c["arm"],
                "failure rate" if failure else "p95 latency",
                show(c.get("candidate_value")),
                show(c.get("control_value")),
                "-"
                if c.get("estimate") is None
                else (f"{c['estimate'] * 100:+.1f} pts" if failure else f"{c['estimate']:.2f}x"),
                "-" if bound is None else (f">= {bound * 100:+.1f} pts" if failure else f">= {bound:.2f}x"),
                f"{c['threshold'] * 100:.1f} pts" if failure else f"{c['threshold']:.2f}x",
                "BREACH" if c.get("breached") else (c.get("skipped") or "ok"),
            ]
        )
    return rows


def _guard_lines(section: Mapping[str, Any]) -> list[str]:
    settings = section.get("settings") or {}
    state = "enabled" if settings.get("enabled") else "off (bakeoff guard enable EXPERIMENT)"
    lines = [f"Guard: {state}. Killed arms: {', '.join(section.get('killed_arms') or []) or 'none'}."]
    lines += [f"Kill at {k['at']}: {k['note']}" for k in section.get("kills", [])]
    lines += [f"Alert: {a['message']}" for a in section.get("alerts", [])]
    return lines


# -- cost ----------------------------------------------------------------------------------------


COST_HEADERS = ["volume", "arm", "figure", "per month", "cost", "assumption"]


def _cost_rows(section: Mapping[str, Any]) -> list[list[str]]:
    """One row per volume, arm and figure (the plain-text listing of ``bakeoff cost``)."""
    rows = []
    currency = (section.get("pricing") or {}).get("currency", "USD")
    for p in section.get("projections", []):
        for f in p["figures"]:
            rows.append(
                [
                    f"x{p['multiplier']} ({fmt(p['jobs_per_month'])} jobs)",
                    p["arm"],
                    f["name"],
                    f"{fmt(f['value'])} {f['unit']}",
                    "-" if f.get("cost") is None else f"{fmt(f['cost'])} {currency}",
                    f["assumption"],
                ]
            )
    return rows


def _cost_table(section: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The report's table: one row per arm and figure, a column per volume, the assumption beside."""
    currency = (section.get("pricing") or {}).get("currency", "USD")
    projections = section.get("projections", [])
    multipliers = sorted({int(p["multiplier"]) for p in projections})
    jobs = {int(p["multiplier"]): p["jobs_per_month"] for p in projections}
    cells: dict[tuple[str, str], dict[int, str]] = {}
    assumptions: dict[tuple[str, str], str] = {}
    for p in projections:
        for f in p["figures"]:
            key = (p["arm"], f["name"])
            cost = "" if f.get("cost") is None else f" = {fmt(f['cost'])} {currency}"
            cells.setdefault(key, {})[int(p["multiplier"])] = f"{fmt(f['value'])} {f['unit']}{cost}"
            assumptions.setdefault(key, f["assumption"])  # the lowest volume's wording
    headers = ["arm", "figure", *(f"x{m} ({fmt(jobs[m])} jobs/month)" for m in multipliers), "assumption"]
    rows = [
        [arm, name, *(cells[(arm, name)].get(m, "-") for m in multipliers), assumptions[(arm, name)]]
        for arm, name in cells
    ]
    return headers, rows


def cost_text(section: Mapping[str, Any]) -> str:
    """The cost section as plain text (``bakeoff cost``): each figure with its assumption."""
    lines = [*section.get("assumptions", []), ""]
    current = None
    for row in _cost_rows(section):
        if row[0] != current:
            current = row[0]
            lines.append(f"At {current} per month, as if each arm took all the traffic:")
        lines.append(f"  {row[1]:8} {row[2]:18} {row[3]:>40}  cost {row[4]:>10}  <- {row[5]}")
    return "\n".join(lines)


# -- setup effort and consistency ------------------------------------------------------------------


SETUP_HEADERS = [
    "arm",
    "adapter lines",
    "import lines",
    "processes",
    "config keys",
    "tables",
    "indexes",
    "functions",
    "triggers",
    "first job (s)",
]


def _setup_rows(section: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for arm in section.get("arms", []):
        db = arm.get("database_objects") or {}
        rows.append(
            [
                arm["arm"],
                fmt(arm.get("adapter_lines")),
                fmt(arm.get("import_function_lines")),
                "; ".join(arm.get("processes", [])) or "-",
                fmt(len(arm.get("configuration_keys", []))),
                fmt(db.get("tables")),
                fmt(db.get("indexes")),
                fmt(db.get("functions")),
                fmt(db.get("triggers")),
                fmt(arm.get("seconds_to_first_job")),
            ]
        )
    return rows


CONSISTENCY_HEADERS = ["arm", "checked", "identical", "share identical", "95% Wilson", "differing URLs"]


def _consistency_rows(section: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for arm in section.get("arms", []):
        ci = arm.get("ci")
        rows.append(
            [
                arm["arm"],
                fmt(arm.get("checked")),
                fmt(arm.get("identical")),
                "-" if arm.get("share") is None else f"{arm['share'] * 100:.1f}%",
                "-" if not ci else f"[{ci[0] * 100:.1f}%, {ci[1] * 100:.1f}%]",
                ", ".join(d["url"] for d in arm.get("differences", [])[:5]) or "-",
            ]
        )
    return rows


# -- assembling ------------------------------------------------------------------------------------


TITLES = {
    "guardrail": "Guardrail (automatic kill switch)",
    "cost": "Cost projection",
    "setup_effort": "Setup effort, measured",
    "consistency": "Consistency (same document from every arm)",
}


SectionParts = tuple[list[str], list[str], list[list[str]], list[str]]


def _parts(key: str, section: Mapping[str, Any]) -> SectionParts:
    """(lines before, table headers, table rows, lines after) of one section."""
    if "error" in section:
        return [f"Not measured: {section['error']}"], [], [], []
    if key == "guardrail":
        return _guard_lines(section), GUARD_HEADERS, _guard_rows(section), []
    if key == "cost":
        headers, rows = _cost_table(section)
        return [], headers, rows, list(section.get("assumptions", []))
    if key == "setup_effort":
        return [], SETUP_HEADERS, _setup_rows(section), list(section.get("notes", []))
    return [], CONSISTENCY_HEADERS, _consistency_rows(section), list(section.get("notes", []))


def _present(body: Mapping[str, Any]) -> Iterator[tuple[str, SectionParts]]:
    """Each section the report body holds, in report order, split into its printable parts."""
    for key in SECTION_KEYS:
        section = body.get(key)
        if isinstance(section, Mapping):
            yield key, _parts(key, section)


def sections_markdown(body: Mapping[str, Any]) -> str:
    """The sections present in a report body as Markdown ('' when none is)."""
    out = []
    for key, (before, headers, rows, after) in _present(body):
        out += [f"## {TITLES[key]}", *[f"- {line}" for line in before]]
        if rows:
            out.append(_table_md(headers, rows))
        out += [f"- {line}" for line in after]
    return "\n\n".join(out)


def sections_html(body: Mapping[str, Any]) -> str:
    """The sections present in a report body as HTML ('' when none is)."""
    esc = html.escape
    out = []
    for key, (before, headers, rows, after) in _present(body):
        out.append(f"<h2>{esc(TITLES[key])}</h2>")
        if before:
            out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in before) + "</ul>")
        if rows:
            out.append(_table_html(headers, rows))
        if after:
            out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in after) + "</ul>")
        if key == "consistency" and "error" not in body[key]:
            out.append(_side_by_side(body[key]))
    return "".join(out)


DIFF_STYLE = (
    "<style>table.diff{font-family:monospace;text-align:left}table.diff td{text-align:left}"
    ".diff_add{background:#aaffaa}.diff_chg{background:#ffff77}.diff_sub{background:#ffaaaa}</style>"
)
"""difflib.HtmlDiff's table marks changes by class; these colour them."""


def _side_by_side(section: Mapping[str, Any]) -> str:
    """Each differing import whose texts the section kept: the arm's and the control's, side by side."""
    from bakeoff.analysis.consistency import side_by_side_html

    parts = []
    for arm in section.get("arms", []):
        for diff in arm.get("differences", []):
            if "arm_text" in diff:
                parts.append(f"<h3>{html.escape(arm['arm'])}: {html.escape(diff['url'])}</h3>")
                parts.append(side_by_side_html(diff["arm_text"], diff["control_text"], arm["arm"]))
    return DIFF_STYLE + "".join(parts) if parts else ""


# -- collecting from the database --------------------------------------------------------------------


def _guarded(name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return build()
    except Exception as exc:  # a section must never break the nightly report
        logger.warning("report section %s not measured: %s", name, exc, exc_info=True)
        return {"error": f"{type(exc).__name__}: {exc}"}


def collect_sections(
    engine: Engine, experiment: str, keys: Sequence[str] = SECTION_KEYS
) -> dict[str, dict[str, Any]]:
    """The sections named by ``keys`` (default: every one, :data:`SECTION_KEYS`) for ``experiment``,
    measured from the database; the dashboard asks for the ones it shows."""
    from bakeoff.analysis.consistency import consistency_section
    from bakeoff.analysis.cost import load_pricing, measure_usage, project
    from bakeoff.analysis.setup_effort import setup_effort_section
    from bakeoff.guard.report import guardrail_section

    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "guardrail": lambda: guardrail_section(engine, experiment),
        "cost": lambda: project(measure_usage(engine, experiment), load_pricing()).to_dict(),
        "setup_effort": lambda: setup_effort_section(engine, experiment),
        "consistency": lambda: consistency_section(engine, experiment),
    }
    unknown = sorted(set(keys) - set(builders))
    if unknown:
        raise ValueError(f"unknown report sections {unknown}; known: {list(SECTION_KEYS)}")
    return {key: _guarded(key, builders[key]) for key in keys}
