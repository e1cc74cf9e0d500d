"""Renderers: the JSON contract, Markdown, and one self-contained HTML file with the plots inline.

Every format reads in the same order: the verdict and its reasons first, then the table of arms,
then the comparisons, then (HTML) the plots, then how the verdict moved night by night, the
qualitative observations, and the method notes.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeoff.analysis.forecast import days_phrase
from bakeoff.analysis.sections import sections_html, sections_markdown

if TYPE_CHECKING:
    from bakeoff.analysis.compare import Comparison

__all__ = ["METHOD_NOTES", "clean_json", "to_html", "to_json", "to_markdown"]

METHOD_NOTES = (
    "Verdicts use anytime-valid confidence sequences (asymptotic CS, Waudby-Smith et al.; GrowthBook's "
    "form), alpha split over the candidates, so reading this report every night keeps the false-winner "
    "rate at or under alpha. Fixed-horizon p-values and intervals are descriptive.",
    "Failure rate = failed / (completed + failed); cancelled and open jobs are counted but excluded. "
    "Per arm: Wilson interval. Candidate - control: Newcombe hybrid score interval; two-sided p by "
    "Boschloo's exact test (score test above 150 x 150 jobs); non-inferiority by the one-sided score test.",
    "Latency uses completed jobs only. Shift = Hodges-Lehmann estimate (candidate - control, ms) with its "
    "distribution-free rank interval; p by Mann-Whitney U (exact below 50 untied jobs per arm); Holm over "
    "all candidate-vs-control tests. The sequential latency interval is on log latency (ratio of geometric "
    "means), shown in ms as (ratio - 1) x the control's median.",
    "p50/p95 intervals are distribution-free (order statistics) and are omitted when n is too small "
    "(a two-sided 95% interval for p95 needs at least 73 jobs).",
    "Sample ratio mismatch: chi-square against the configured shares, flagged at p < 0.001 once every arm "
    "has 8 jobs. Phases are analysed apart. Caveats: arms share the database and CPU, so contention can "
    "couple them; time-of-day effects balance only because routing is interleaved.",
)


def clean_json(value: Any) -> Any:
    """Replace NaN and infinities by ``None`` (JSON has no such numbers) and tuples by lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return clean_json(value.item())
    return value


def to_json(comparison: Comparison, *, indent: int | None = 2) -> str:
    """The report JSON (the contract of ``Comparison.to_dict()``)."""
    return json.dumps(clean_json(comparison.to_dict()), indent=indent, allow_nan=False)


def _num(value: Any, digits: int = 0, scale: float = 1.0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{float(value) * scale:,.{digits}f}{suffix}"


def _interval(ci: Sequence[float] | None, digits: int = 0, scale: float = 1.0) -> str:
    if ci is None:
        return "-"
    return f"[{_num(ci[0], digits, scale)}, {_num(ci[1], digits, scale)}]"


ARM_HEADERS = (
    "arm",
    "assigned",
    "finished",
    "open",
    "failed",
    "failure rate",
    "95% CI",
    "p50 ms",
    "p50 CI",
    "p95 ms",
    "p95 CI",
    "attempts",
)
COMPARISON_HEADERS = (
    "candidate",
    "metric",
    "estimate",
    "95% CI",
    "sequential CI",
    "p",
    "p (Holm)",
    "significant",
    "notes",
)


def _arm_rows(c: Comparison) -> list[list[str]]:
    rows = []
    for name, a in c.arms.items():
        rows.append(
            [
                name + (" (control)" if name == c.control else ""),
                str(a.assigned),
                str(a.finished),
                str(a.open),
                str(a.failed),
                _num(a.failure_rate, 1, 100, "%"),
                _interval(a.failure_rate_ci, 1, 100),
                _num(a.latency_ms["p50"]),
                _interval(a.latency_p50_ci),
                _num(a.latency_ms["p95"]),
                _interval(a.latency_p95_ci),
                _num(a.attempts_mean, 2),
            ]
        )
    return rows


def _comparison_rows(c: Comparison) -> list[list[str]]:
    rows = []
    for r in c.comparisons:
        failure = r.metric == "failure_rate"
        scale, digits = (100.0, 2) if failure else (1.0, 0)
        extra = dict(r.extra)
        note = (
            f"non-inferior (fixed): {r.non_inferior}; sequential: {extra.get('non_inferior_sequential')}"
            if failure
            else f"ratio {_num(extra.get('ratio'), 2)}x; p95 ratio {_num(extra.get('p95_ratio'), 2)}x; "
            f"U = {_num(r.u_statistic)}"
        )
        rows.append(
            [
                r.arm,
                "failure rate (points)" if failure else "latency shift (ms)",
                _num(r.estimate, digits, scale),
                _interval(r.ci, digits, scale),
                _interval(r.ci_sequential, digits, scale),
                _num(r.p_value, 4),
                _num(r.p_value_adjusted, 4),
                "yes" if r.significant else "no",
                note,
            ]
        )
    return rows


def _days_to_decision_words(c: Comparison) -> str:
    body = c.power.get("days_to_decision")
    if body is None:
        return "Days to decision: - (some arm has no finished jobs)."
    within = body["probability_within"]
    chances = "/".join(f"{within[d]:.0%}" for d in within)
    return (
        f"Days to decision: {days_phrase(body)}; chance of a decision within {'/'.join(within)} more days: "
        f"{chances} ({body['draws']} simulated futures of the trial)."
    )


def _plan_line(c: Comparison) -> str:
    plan = c.power.get("plan")
    if not plan or plan.get("probability") is None:
        return ""
    day, trial_day, chance = plan["day"], plan["trial_day"], plan["probability"]
    if plan["days_left"] < 0 and chance < 1:
        return (
            f"Plan (decide by day {day:g} of the trial): day {day:g} has passed "
            f"(the trial is at day {trial_day:.1f})."
        )
    return (
        f"Plan (decide by day {day:g} of the trial; the trial is at day {trial_day:.1f}): "
        f"{chance:.0%} chance of a decision by then at the current rate."
    )


def _power_line(c: Comparison) -> str:
    p = c.power
    return " ".join(
        part
        for part in (
            f"At {_num(p.get('jobs_per_arm_per_day'), 1)} jobs per arm per day and "
            f"{_num(p['failure_rate'].get('n_per_arm'))} jobs per arm, the smallest detectable failure-rate "
            f"increase is {_num(p['failure_rate'].get('mde'), 1, 100)} points and the smallest detectable "
            f"latency ratio {_num(p['latency'].get('mde_ratio'), 2)}x (power 0.8).",
            _days_to_decision_words(c),
            _plan_line(c),
        )
        if part
    )


def _observation_lines(c: Comparison) -> list[str]:
    lines = []
    for arm, kinds in c.observations.items():
        parts = [
            f"{kind}: n={v['count']}, total {v['total']:g}, mean {v['mean']:.2f}"
            for kind, v in kinds.items()
            if kind != "notes"
        ]
        if parts:
            lines.append(f"{arm}: " + "; ".join(parts))
    return lines


def _history_rows(history: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for body in history:
        seq = [
            f"{r['arm']} {r['metric']}: "
            + _interval(r.get("ci_sequential"), 3 if r["metric"] == "failure_rate" else 0)
            for r in body.get("comparisons", [])
        ]
        verdict = body.get("verdict", {})
        rows.append(
            [
                str(body.get("generated_at", ""))[:16],
                str(verdict.get("status")),
                str(verdict.get("winner") or "-"),
                "; ".join(seq),
            ]
        )
    return rows


def _md_table(headers: Sequence[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(comparison: Comparison, *, history: Sequence[Mapping[str, Any]] = ()) -> str:
    """The report as Markdown (plots are in the HTML report and in ``Comparison.plots()``)."""
    c = comparison
    v = c.verdict
    out = [
        f"# bakeoff report: {c.experiment}, phase {c.phase}",
        f"Generated {c.generated_at.isoformat(timespec='seconds')}; analysis {c.analysis}; "
        f"control {c.control}; alpha {c.alpha}; failure margin {c.failure_margin * 100:.1f} points.",
        f"## Verdict: {v.status}" + (f" ({v.winner})" if v.winner else ""),
        *[f"- {reason}" for reason in v.reasons],
        *[f"- {note}" for note in c.notes],
        "## Arms",
        _md_table(ARM_HEADERS, _arm_rows(c)),
        "## Comparisons",
        _md_table(COMPARISON_HEADERS, _comparison_rows(c)),
        "## Power",
        _power_line(c),
    ]
    if history:
        out += [
            "## Night by night",
            _md_table(("generated", "verdict", "winner", "sequential intervals"), _history_rows(history)),
        ]
    observations = _observation_lines(c)
    if observations:
        out += [
            "## Qualitative observations (not part of the statistics)",
            *[f"- {line}" for line in observations],
        ]
    extra = sections_markdown(c.sections)
    if extra:
        out.append(extra)
    out += ["## Method notes", *[f"- {note}" for note in METHOD_NOTES]]
    return "\n\n".join(out) + "\n"


def _html_table(headers: Sequence[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _history_image(history: Sequence[Mapping[str, Any]]) -> str:
    from bakeoff.analysis.plots import history as history_figure

    return f"<img alt='history' src='data:image/png;base64,{_png(history_figure(history))}'>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:right}"
    "td:first-child,th:first-child{text-align:left}.verdict{padding:1em;border-radius:6px;background:#eef}"
    ".invalid{background:#fdd}.winner{background:#dfd}img{max-width:100%}"
)


def to_html(comparison: Comparison, path: str | Path, *, history: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write the report as one self-contained HTML file (plots inline as PNG); returns the path."""
    c = comparison
    v = c.verdict
    esc = html.escape
    reasons = "".join(f"<li>{esc(r)}</li>" for r in (*v.reasons, *c.notes))
    plots = "".join(
        f"<h3>{esc(name.replace('_', ' '))}</h3>"
        f"<img alt='{esc(name)}' src='data:image/png;base64,{_png(fig)}'>"
        for name, fig in c.plots().items()
    )
    history_html = (
        "<h2>Night by night</h2>"
        + _history_image(history)
        + _html_table(("generated", "verdict", "winner", "sequential intervals"), _history_rows(history))
        if history
        else ""
    )
    observations = (
        "".join(f"<li>{esc(line)}</li>" for line in _observation_lines(c)) or "<li>none recorded</li>"
    )
    notes = "".join(f"<li>{esc(n)}</li>" for n in METHOD_NOTES)
    title = esc(f"bakeoff report: {c.experiment}, phase {c.phase}")
    status = esc(v.status) + esc(f" ({v.winner})" if v.winner else "")
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>Generated {esc(c.generated_at.isoformat(timespec='seconds'))}; analysis {esc(c.analysis)}; "
        f"control {esc(c.control)}; alpha {c.alpha}; failure margin {c.failure_margin * 100:.1f} points.</p>"
        f"<div class='verdict {esc(v.status)}'><h2>Verdict: {status}</h2><ul>{reasons}</ul></div>"
        f"<h2>Arms</h2>{_html_table(ARM_HEADERS, _arm_rows(c))}"
        f"<h2>Comparisons</h2>{_html_table(COMPARISON_HEADERS, _comparison_rows(c))}"
        f"<p>{esc(_power_line(c))}</p><h2>Plots</h2>{plots}{history_html}"
        f"<h2>Qualitative observations (beside, not in, the statistics)</h2><ul>{observations}</ul>"
        f"{sections_html(c.sections)}<h2>Method notes</h2><ul>{notes}</ul></body></html>"
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document, encoding="utf-8")
    return out
