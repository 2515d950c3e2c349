"""The drill report as JSON and as CSV, for the API and `dispatcher report` alike.

Protected people are already masked in the report itself (`dispatcher.domain.drill_report`):
nothing here sees their names.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from dispatcher.clock import from_millis
from dispatcher.domain.drill_report import (
    Breakdown,
    DrillReport,
    Headline,
    Percentiles,
    Reason,
    Series,
)

NEVER = "never"
METHOD = {
    "percentiles": "nearest-rank",
    "minutes_from": "each person's call-up; unit coverage from the activation's call-up",
    "no_answer": "not answered: still awaiting, or past the answer deadline",
}
CSV_COLUMNS = (
    *("section", "id", "name", "kind", "declared_at", "unit", "department", "needed"),
    *("called", "answered", "confirmed", "declined", "no_answer", "failed", "response_rate"),
    *("first_answer_p50", "first_answer_p90", "first_answer_max"),
    *("confirmation_p50", "confirmation_p90", "confirmation_max"),
    *("covered_after_minutes", "reasons"),
)


def iso_time(millis: int | None) -> str | None:
    if millis is None:
        return None
    return from_millis(millis).isoformat(timespec="seconds").replace("+00:00", "Z")


def chart_path(activation_id: str) -> str:
    return f"/api/activations/{activation_id}/report/chart.svg"


def _rate(counts: Breakdown) -> float | None:
    rate = counts.response_rate
    return None if rate is None else round(rate, 3)


def _counts(counts: Breakdown) -> dict[str, Any]:
    return {
        "called": counts.called,
        "answered": counts.answered,
        "confirmed": counts.confirmed,
        "declined": counts.declined,
        "no_answer": counts.no_answer,
        "failed": counts.failed,
        "response_rate": _rate(counts),
    }


def _percentiles(p: Percentiles) -> dict[str, Any]:
    return {"count": p.count, "p50": p.p50, "p90": p.p90, "max": p.max}


def _points(series: Series) -> list[dict[str, Any]]:
    return [{"minutes": round(m, 2), "confirmed": n} for m, n in series.points]


def _trend(headline: Headline, current: bool) -> dict[str, Any]:
    return {
        "activation_id": headline.activation_id,
        "title": headline.title,
        "declared_at": iso_time(headline.declared_at),
        "current": current,
        "needed": headline.needed,
        **_counts(headline.totals),
        "first_answer_minutes": _percentiles(headline.first_answer),
        "confirmation_minutes": _percentiles(headline.confirmation),
        "units_covered": headline.units_covered,
        "units": headline.units,
        "all_covered_after_minutes": headline.all_covered_after,
    }


def report_json(report: DrillReport, *, generated_at: int) -> dict[str, Any]:
    """The report body of `GET /api/activations/{id}/report` (see the README)."""
    a, h = report.activation, report.headline
    return {
        "activation": {
            "id": a.id,
            "kind": a.kind,
            "title": a.title,
            "state": a.state,
            "scope": dict(a.scope),
            "declared_at": iso_time(a.declared_at),
            "called_at": iso_time(report.called_at),
            "stood_down_at": iso_time(a.stood_down_at),
        },
        "generated_at": iso_time(generated_at),
        "method": METHOD,
        "totals": {"needed": h.needed, **_counts(h.totals)},
        "first_answer_minutes": _percentiles(h.first_answer),
        "confirmation_minutes": _percentiles(h.confirmation),
        "coverage": {
            "units_covered": h.units_covered,
            "units": h.units,
            "all_covered_after_minutes": h.all_covered_after,
        },
        "units": [
            {
                "unit_id": u.counts.key,
                "name": u.counts.name,
                "needed": u.needed,
                **_counts(u.counts),
                "covered": u.covered_after is not None,
                "covered_after_minutes": u.covered_after,
            }
            for u in report.units
        ],
        "departments": [{"department": d.name, **_counts(d)} for d in report.departments],
        "not_reached": {
            "count": len(report.not_reached),
            "by_reason": {
                reason.value: sum(1 for p in report.not_reached if reason in p.reasons)
                for reason in Reason
            },
            "people": [
                {
                    "person_id": p.person_id,
                    "name": p.name,
                    "department": p.department,
                    "unit_id": p.unit_id,
                    "unit_name": p.unit_name,
                    "state": p.state,
                    "reasons": [r.value for r in p.reasons],
                }
                for p in report.not_reached
            ],
        },
        "confirmations_over_time": {
            "span_minutes": round(report.span, 2),
            "total": _points(report.total_series),
            "units": [
                {"unit_id": s.key, "name": s.name, "needed": s.needed, "points": _points(s)}
                for s in report.unit_series
            ],
        },
        "chart": chart_path(a.id),
        "trend": [_trend(t, i == len(report.trend) - 1) for i, t in enumerate(report.trend)],
    }


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _csv_counts(counts: Breakdown) -> dict[str, str]:
    return {k: _cell(v) for k, v in _counts(counts).items()}


def _csv_percentiles(prefix: str, p: Percentiles) -> dict[str, str]:
    return {
        f"{prefix}_p50": _cell(p.p50),
        f"{prefix}_p90": _cell(p.p90),
        f"{prefix}_max": _cell(p.max),
    }


def _csv_headline(section: str, h: Headline) -> dict[str, str]:
    return {
        "section": section,
        "id": h.activation_id,
        "name": h.title,
        "kind": h.kind,
        "declared_at": _cell(iso_time(h.declared_at)),
        "needed": str(h.needed),
        **_csv_counts(h.totals),
        **_csv_percentiles("first_answer", h.first_answer),
        **_csv_percentiles("confirmation", h.confirmation),
        "covered_after_minutes": _cell(h.all_covered_after)
        if h.all_covered_after is not None
        else NEVER,
    }


def report_csv(report: DrillReport) -> str:
    """The report as one CSV table: a `section` column (total, unit, department, not_reached,
    trend) says what each row is; cells that do not apply to a section are empty."""
    rows: list[dict[str, str]] = [_csv_headline("total", report.headline)]
    for u in report.units:
        rows.append(
            {
                "section": "unit",
                "id": u.counts.key,
                "name": u.counts.name,
                "unit": u.counts.name,
                "needed": str(u.needed),
                **_csv_counts(u.counts),
                "covered_after_minutes": NEVER if u.covered_after is None else str(u.covered_after),
            }
        )
    for d in report.departments:
        rows.append(
            {"section": "department", "name": d.name, "department": d.name, **_csv_counts(d)}
        )
    for p in report.not_reached:
        rows.append(
            {
                "section": "not_reached",
                "id": _cell(p.person_id),
                "name": p.name,
                "unit": p.unit_name,
                "department": _cell(p.department),
                "reasons": " ".join(r.value for r in p.reasons),
            }
        )
    rows.extend(_csv_headline("trend", t) for t in report.trend)
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, restval="", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
