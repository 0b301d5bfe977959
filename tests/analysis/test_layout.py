"""Every figure of a report is readable: legends off the data, no colliding tick
labels, log axes in plain ms, time panels aligned, and nothing printed as a warning.

Judged on the drawn artists' window extents (matplotlib's own layout), not pixels.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from gwsload.analysis import markup, plots, render
from gwsload.analysis.load import load_run
from gwsload.analysis.summary import analyze_run

DATA = Path(__file__).parent / "data"


def _report_figures(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures ``render_report`` puts in the page, captured on their way in."""
    figures: list[Figure] = []
    real = markup.figure_png

    def capture(plot: Axes | Figure, *, alt: str | None = None) -> str:
        figure = plot if isinstance(plot, Figure) else plot.get_figure(root=True)
        assert isinstance(figure, Figure)
        figures.append(figure)
        return real(plot, alt=alt)

    monkeypatch.setattr(render, "figure_png", capture)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning while plotting fails the test
        render.render_report(analyze_run(load_run(folder)))
    return figures


def _overlaps(a: Bbox, b: Bbox) -> bool:
    # touching edges are fine; a shared pixel row of ink is not
    return a.x0 < b.x1 - 1 and b.x0 < a.x1 - 1 and a.y0 < b.y1 - 1 and b.y0 < a.y1 - 1


def layout_problems(figure: Figure) -> list[str]:
    """What makes ``figure`` hard to read: legends over data, colliding tick labels."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # the layout as savefig makes it
    renderer = canvas.get_renderer()
    problems = []
    axes = figure.get_axes()
    for ax in axes:
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            for other in axes:
                if _overlaps(box, other.get_window_extent(renderer)):
                    problems.append(f"legend of {ax.get_title()!r} over {other.get_title()!r}")
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2):
                if _overlaps(a, b):
                    problems.append(
                        f"{ax.get_title()!r}: tick labels {labels[i].get_text()!r} and "
                        f"{labels[j].get_text()!r} collide"
                    )
    return problems


@pytest.mark.parametrize("kind", ["faulty", "capacity", "open", "harness-run"])
def test_report_figures_are_readable(
    runs: dict[str, Path], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = DATA / "faulty-smoke" if kind == "harness-run" else runs[kind]
    figures = _report_figures(folder, monkeypatch)
    assert len(figures) >= 7
    for figure in figures:
        assert layout_problems(figure) == []
        for ax in figure.get_axes():
            for axis in (ax.xaxis, ax.yaxis):
                if axis.get_scale() == "log":
                    # plain ms: "1", "20", "500", never "2x10^1"
                    texts = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
                    assert texts and all("^" not in t and "$" not in t for t in texts), texts


def test_time_panels_share_one_aligned_axis(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = _report_figures(runs["faulty"], monkeypatch)
    panels = max(figures, key=lambda f: len(f.get_axes())).get_axes()
    titles = [ax.get_title() for ax in panels]
    assert "Throughput" in titles
    assert "Notification p99 per window, by operation" in titles
    # the faulty run's notifications carry the server's timestamp: the split has a panel
    assert "Server time vs delivery per window, all operations" in titles
    lefts = {round(ax.get_position().x0, 4) for ax in panels}
    rights = {round(ax.get_position().x1, 4) for ax in panels}
    assert len(lefts) == 1 and len(rights) == 1  # one column, same width
    assert {ax.get_xlim() for ax in panels} == {(0.0, 120.0)}
    hatches = {p.get_hatch() for ax in panels for p in ax.patches if p.get_hatch()}
    assert hatches  # warm-up drawn hatched, as docs/reports.md says


def test_the_check_sees_a_legend_over_the_data() -> None:
    ax = plots.new_axes()
    ax.plot([0, 1, 2], [0, 1, 0], label="a line")
    ax.legend(loc="center")
    figure = ax.get_figure(root=True)
    assert isinstance(figure, Figure)
    assert layout_problems(figure)  # the check can fail
    plots.legend_outside(ax)
    assert layout_problems(figure) == []


def test_log_axis_reads_in_plain_ms() -> None:
    ax = plots.new_axes()
    ax.plot([1, 2], [3.0, 400.0])
    ax.set_yscale("log")
    plots.ms_log_axis(ax.yaxis, 3.0, 400.0)
    figure = ax.get_figure(root=True)
    assert isinstance(figure, Figure)
    FigureCanvasAgg(figure).draw()
    texts = [t.get_text() for t in ax.yaxis.get_ticklabels() if t.get_text()]
    assert {"5", "10", "20", "50", "100", "200"} <= set(texts)
