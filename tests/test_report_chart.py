"""The report's chart: a valid SVG of the stated size, with lines that show the confirmations,
Swedish axis labels, and no person's name in it."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from dispatcher.domain.drill_report import (
    AnswerRow,
    DrillReport,
    UnitRow,
    build_report,
)
from dispatcher.report_chart import MAX_UNIT_LINES, X_LABEL, Y_LABEL, nice_ticks, render_chart
from tests.test_drill_report import MIXED, at, callup, facts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def lines_of(root: ET.Element) -> list[list[tuple[float, float]]]:
    """Every polyline's points as (x, y) pairs."""
    found = []
    for polyline in root.iter(f"{SVG}polyline"):
        pairs = polyline.attrib["points"].split()
        found.append([(float(x), float(y)) for x, y in (p.split(",") for p in pairs)])
    return found


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.fixture
def report() -> DrillReport:
    return build_report(MIXED, now=at(90))


def test_a_valid_svg_of_the_stated_size(report: DrillReport) -> None:
    root = parse(render_chart(report))
    assert root.tag == f"{SVG}svg"
    assert (root.attrib["width"], root.attrib["height"]) == ("800", "480")
    assert root.attrib["viewBox"] == "0 0 800 480"
    small = parse(render_chart(report, width=640, height=360))
    assert (small.attrib["width"], small.attrib["height"]) == ("640", "360")


def test_not_blank_lines_rise_where_people_confirmed(report: DrillReport) -> None:
    root = parse(render_chart(report))
    lines = lines_of(root)
    assert len(lines) == 1 + 2  # the total, and the two units that needed anyone
    total = lines[-1]
    assert len(total) > 2
    assert all(0 <= x <= 800 and 0 <= y <= 480 for x, y in total)
    heights = {y for _, y in total}
    assert len(heights) == 5  # 0, 1, 2, 3 and 4 confirmed: four steps up
    assert total[-1][1] < total[0][1]  # ends higher than it starts (SVG y grows downwards)


def test_axis_labels_in_swedish_and_the_kind_marked(report: DrillReport) -> None:
    labels = texts(parse(render_chart(report)))
    assert X_LABEL == "Minuter sedan inkallelsen" and X_LABEL in labels
    assert Y_LABEL == "Antal bekräftade" and Y_LABEL in labels
    assert "ÖVNING: Vinterövning" in labels
    assert "Behov totalt: 3" in labels
    assert {"Totalt: 4/3", "Solgården: 3/2", "Ekbacken: 1/1"} <= set(labels)
    crisis = dataclasses.replace(report, activation=dataclasses.replace(MIXED, kind="crisis"))
    assert "KRIS: Vinterövning" in texts(parse(render_chart(crisis)))


def test_names_nobody(report: DrillReport) -> None:
    svg = render_chart(report)
    assert "Person" not in svg and "Hemlig" not in svg and "P1" not in svg


def test_nobody_confirmed_still_draws_the_flat_total() -> None:
    silent = build_report(facts((callup(1, "U1", "no_answer"),)), now=at(45))
    root = parse(render_chart(silent))
    total = lines_of(root)[-1]
    assert len(total) >= 2 and {y for _, y in total} == {total[0][1]}
    assert total[-1][0] > total[0][0]  # drawn across the time
    assert "Ingen har bekräftat" in texts(root)


def test_many_units_keep_the_legend_readable() -> None:
    count = MAX_UNIT_LINES + 3
    units = tuple(UnitRow(f"U{n}", f"Enhet <{n}> & co", 1) for n in range(count))
    callups = tuple(
        dataclasses.replace(callup(n, "U1", "confirmed", first=n, last=n), unit_id=f"U{n}")
        for n in range(count)
    )
    answers = tuple(AnswerRow(n, "yes", at(n)) for n in range(count))
    root = parse(render_chart(build_report(facts(callups, answers, units=units), now=at(60))))
    assert len(lines_of(root)) == MAX_UNIT_LINES + 1
    assert "+ 3 enheter till (i totalen)" in texts(root)
    assert any("Enhet <0> & co" in t for t in texts(root))  # escaped, and read back


@pytest.mark.parametrize(
    ("largest", "expected"),
    [
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (8, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
        (9, [0, 2, 4, 6, 8, 10]),
        (37.5, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
        (60, [0, 10, 20, 30, 40, 50, 60]),
        (95, [0, 20, 40, 60, 80, 100]),
        (1234, [0, 200, 400, 600, 800, 1000, 1200, 1400]),
    ],
)
def test_nice_ticks(largest: float, expected: list[int]) -> None:
    assert nice_ticks(largest) == expected
