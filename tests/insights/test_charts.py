"""The server-drawn SVG charts: well-formed XML sized by its viewBox, values drawn to scale,
suppressed values drawn without any number, and every text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from backend.insights import charts
from backend.insights.charts import Band, Point

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg"
    return root


def months(*values: float | None) -> list[Point]:
    return [
        Point(f"{i + 1:02d}", "2027" if i == 0 else "", v, f"2027-{i + 1:02d}: {v}")
        for i, v in enumerate(values)
    ]


def bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") != "suppressed"]


def test_a_bar_chart_scales_by_its_viewbox_and_draws_each_value_to_scale() -> None:
    # given three months, the second twice the first
    points = months(100.0, 200.0, 0.0)

    # when drawn
    root = parse(charts.bar_chart(points, caption="Diverted (kg)"))

    # then the chart has a viewBox and no fixed size, so it is as wide as its column
    assert root.get("viewBox") == f"0 0 {charts.WIDTH} {charts.TOP + charts.PLOT_HEIGHT + 34}"
    assert root.get("width") is None
    assert root.get("height") is None
    assert root.findtext(f"{SVG}title") == "Diverted (kg)"
    # and each bar is as tall as its value (the axis reaches 200)
    heights = [float(r.get("height") or 0) for r in bars(root)]
    assert heights == [charts.PLOT_HEIGHT / 2, charts.PLOT_HEIGHT, 0.0]
    assert [r.findtext(f"{SVG}title") for r in bars(root)] == [
        "2027-01: 100.0",
        "2027-02: 200.0",
        "2027-03: 0.0",
    ]
    # and the months are labelled, the year under the first
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[-4:] == ["01", "2027", "02", "03"]


def test_a_suppressed_value_is_an_empty_marker_with_no_number() -> None:
    # given a month built from fewer than three organisations between two shown ones
    points = [
        Point("01", "", 1234.0, "2027-01: 1,234 kg"),
        Point("02", "", None, "2027-02: fewer than 3 organisations"),
        Point("03", "", 10.0, "2027-03: 10 kg"),
    ]

    # when drawn as bars and as a line
    for svg in (
        charts.bar_chart(points, caption="kg"),
        charts.line_chart(points, caption="kg"),
    ):
        root = parse(svg)

        # then the suppressed month is one dashed marker on the baseline, whose only text is
        # the explanation
        [marker] = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "suppressed"]
        assert marker.get("fill") == "none"
        assert marker.get("stroke-dasharray") == "2 2"
        assert marker.findtext(f"{SVG}title") == "2027-02: fewer than 3 organisations"
        assert float(marker.get("height") or 0) == 8
        # and no other element speaks of February
        titles = [
            e.findtext(f"{SVG}title") for e in root.iter() if e.find(f"{SVG}title") is not None
        ]
        assert [t for t in titles if t and t.startswith("2027-02")] == [
            "2027-02: fewer than 3 organisations"
        ]


def test_a_line_is_broken_where_a_value_is_suppressed() -> None:
    root = parse(charts.line_chart(months(1, 2, None, 3, 4), caption="JPY"))

    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2  # January-February and April-May, nothing across March
    assert [len((line.get("points") or "").split()) for line in lines] == [2, 2]
    assert len(root.findall(f"{SVG}circle")) == 4


def test_negative_values_go_below_the_axis() -> None:
    # given a month where suppliers were paid less than nothing (holders paid takers)
    root = parse(charts.bar_chart(months(-50.0, 100.0), caption="paid"))

    first, second = bars(root)
    zero = charts.TOP + charts.PLOT_HEIGHT * 100 / 150  # the axis runs from -50 to 100
    assert float(first.get("y") or 0) == pytest.approx(zero, abs=0.1)
    assert float(second.get("y") or 0) + float(second.get("height") or 0) == pytest.approx(
        zero, abs=0.1
    )


def test_every_text_is_escaped() -> None:
    hostile = '<script>alert("x")</script> & </svg>'
    svg = charts.bar_chart(
        [Point(hostile, hostile, 1.0, hostile)], caption=hostile, colour=charts.BAR
    )
    flow = charts.sankey(
        [Band("a", hostile, "b", hostile, "#000", hostile, 5.0, hostile)],
        caption=hostile,
        legend_title=hostile,
    )
    for drawn in (svg, flow):
        assert "<script" not in drawn
        root = parse(drawn)
        assert root.findtext(f"{SVG}title") == hostile


def test_the_flow_diagram_draws_bands_as_thick_as_their_kilograms() -> None:
    # given two activities supplying one, 3 t and 1 t
    bands = [
        Band("1610", "Sawmilling", "1629", "Wood products", "#111", "Shavings", 3000.0, "a"),
        Band("0161", "Crops", "1629", "Wood products", "#222", "Straw", 1000.0, "b"),
    ]

    root = parse(charts.sankey(bands, caption="Flows", legend_title="Materials"))

    # then each band's thickness at its ends is in proportion (3:1)
    paths = root.findall(f"{SVG}path")
    assert [p.findtext(f"{SVG}title") for p in paths] == ["a", "b"]

    def thickness(path: ET.Element) -> float:
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d") or "")]
        return numbers[-1] - numbers[1]  # the left end: last point minus the first

    assert thickness(paths[0]) == pytest.approx(3 * thickness(paths[1]), rel=0.02)
    # and the nodes are labelled, the legend names the materials in their colours
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["Sawmilling", "Crops", "Wood products", "Materials", "Shavings", "Straw"]
    legend = [r.get("fill") for r in root.iter(f"{SVG}rect")][-2:]
    assert legend == ["#111", "#222"]


def test_long_labels_are_shortened_in_the_drawing_but_whole_in_the_tooltip() -> None:
    title = (
        "Manufacture of other products of wood; manufacture of articles of cork, straw and "
        "plaiting materials"
    )
    root = parse(
        charts.sankey(
            [Band("a", title, "b", "B", "#000", "m", 1.0, "t")], caption="c", legend_title="l"
        )
    )
    node = next(r for r in root.iter(f"{SVG}rect") if r.findtext(f"{SVG}title") == title)
    assert node is not None
    label = next(t.text for t in root.iter(f"{SVG}text") if (t.text or "").startswith("Manu"))
    assert label is not None
    assert len(label) == charts.LABEL_CHARS
    assert label.endswith("\u2026")


def test_nothing_to_draw_is_an_empty_drawing() -> None:
    root = parse(charts.sankey([], caption="Flows", legend_title="Materials"))
    assert root.findall(f"{SVG}path") == []
    assert root.findtext(f"{SVG}title") == "Flows"


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(0.0, 1.0), (0.3, 0.5), (1.0, 1.0), (1.2, 2.0), (2.2, 2.5), (3.0, 5.0), (17000.0, 20000.0)],
)
def test_axes_end_on_round_numbers(value: float, ceiling: float) -> None:
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0.0, "0"),
        (0.25, "0.25"),
        (950.0, "950"),
        (1200.0, "1.2k"),
        (34000.0, "34k"),
        (1_500_000.0, "1.5M"),
        (-2000.0, "-2k"),
    ],
)
def test_axis_labels_are_compact(value: float, label: str) -> None:
    assert charts.compact(value) == label
