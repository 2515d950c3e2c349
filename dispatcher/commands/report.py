"""`dispatcher report ID`: the drill report of an activation (a crisis's too), as text, JSON
or CSV, and its chart as an SVG file with `--chart out.svg`. Reading it is audited (it
lists the people who were not reached)."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher import audit
from dispatcher.audit import Actor
from dispatcher.clock import SystemClock, from_millis, to_millis
from dispatcher.commands import UserError, format_table, open_database
from dispatcher.domain.drill_report import Breakdown, DrillReport, Headline, Percentiles
from dispatcher.report_chart import render_chart
from dispatcher.report_views import report_csv, report_json
from dispatcher.settings import Settings
from dispatcher.store.drill_report import load_report

_STOCKHOLM = ZoneInfo("Europe/Stockholm")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    report = subparsers.add_parser(
        "report",
        help="an activation's drill report: answers, timing, coverage, who was not reached",
    )
    report.add_argument("activation_id", metavar="ACTIVATION_ID")
    report.add_argument("--format", choices=("text", "json", "csv"), default="text")
    report.add_argument(
        "--chart", type=Path, metavar="OUT.svg", help="also write the chart (SVG) to this file"
    )
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    now = to_millis(SystemClock().now())
    report = asyncio.run(_read(settings, args.activation_id, args.format, now))
    if args.chart is not None:
        try:
            args.chart.write_text(render_chart(report), encoding="utf-8")
        except OSError as error:
            raise UserError(f"--chart: cannot write {args.chart}: {error.strerror}") from None
    if args.format == "json":
        print(json.dumps(report_json(report, generated_at=now), ensure_ascii=False, indent=2))
    elif args.format == "csv":
        print(report_csv(report), end="")
    else:
        print(format_text(report))
    return 0


async def _read(settings: Settings, activation_id: str, fmt: str, now: int) -> DrillReport:
    """The report, its reading recorded in the audit log."""
    async with open_database(settings) as db:
        report = await load_report(db, activation_id, now=now)
        if report is None:
            raise UserError(f"no activation {activation_id!r} (see: dispatcher status)")
        await audit.record(
            db,
            Actor.command_line(),
            audit.EXPORT_READ,
            at_ms=now,
            subject=activation_id,
            detail={"export": "drill_report", "format": fmt, "people": len(report.not_reached)},
        )
    return report


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _rate(counts: Breakdown) -> str:
    rate = counts.response_rate
    return "-" if rate is None else f"{rate * 100:.0f} %"


def _local(millis: int) -> str:
    return from_millis(millis).astimezone(_STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _spread(p: Percentiles) -> str:
    return f"p50 {_minutes(p.p50)}, p90 {_minutes(p.p90)}, max {_minutes(p.max)} (n={p.count})"


def _counts(c: Breakdown) -> tuple[str, ...]:
    numbers = (c.called, c.confirmed, c.declined, c.no_answer, c.failed)
    return (*(str(n) for n in numbers), _rate(c))


_COUNT_HEADER = ("CALLED", "CONFIRMED", "DECLINED", "NO ANSWER", "FAILED", "RESPONSE")


def _covered(h: Headline) -> str:
    return "never" if h.all_covered_after is None else f"{h.all_covered_after:g} min"


def format_text(report: DrillReport) -> str:
    """The report for a terminal: headline figures, then one table per breakdown."""
    a, h = report.activation, report.headline
    t = h.totals
    lines = [
        f"{a.kind.capitalize()} {a.id}: {a.title} ({a.state}),"
        f" called {_local(report.called_at)} Stockholm time",
        f"Called {t.called}, answered {t.answered} ({_rate(t)}): confirmed {t.confirmed},"
        f" declined {t.declined}, no answer {t.no_answer}, failed {t.failed}; needed {h.needed}",
        f"Minutes to first answer: {_spread(h.first_answer)}",
        f"Minutes to confirmation: {_spread(h.confirmation)}",
        f"Units covered: {h.units_covered} of {h.units}; all covered after: {_covered(h)}",
        "",
        format_table(
            ("UNIT", "NEEDED", *_COUNT_HEADER, "COVERED AFTER"),
            [
                (
                    u.counts.name,
                    str(u.needed),
                    *_counts(u.counts),
                    "never" if u.covered_after is None else f"{u.covered_after:g} min",
                )
                for u in report.units
            ],
        ),
        "",
        format_table(
            ("DEPARTMENT", *_COUNT_HEADER), [(d.name, *_counts(d)) for d in report.departments]
        ),
        "",
        f"Not reached: {len(report.not_reached)}",
    ]
    if report.not_reached:
        lines.append(
            format_table(
                ("PERSON", "NAME", "UNIT", "DEPARTMENT", "WHY"),
                [
                    (
                        p.person_id or "-",
                        p.name,
                        p.unit_name,
                        p.department or "-",
                        ", ".join(r.value for r in p.reasons),
                    )
                    for p in report.not_reached
                ],
            )
        )
    lines += [
        "",
        f"Trend ({a.kind}s of the same scope, oldest first):",
        format_table(
            ("DECLARED", "TITLE", "CALLED", "RESPONSE", "FIRST P50", "CONFIRM P50", "ALL COVERED"),
            [
                (
                    _local(x.declared_at),
                    x.title,
                    str(x.totals.called),
                    _rate(x.totals),
                    _minutes(x.first_answer.p50),
                    _minutes(x.confirmation.p50),
                    _covered(x),
                )
                for x in report.trend
            ],
        ),
    ]
    return "\n".join(lines)
