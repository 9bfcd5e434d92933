"""Staff charts: the votes-per-hour chart draws each hour as one hour on a time axis."""

from datetime import UTC, datetime, timedelta

import pytest

from labelling.staff import charts, staff_selectors


@pytest.mark.parametrize("hours_with_votes", [1, 3])
def test_votes_per_hour_draws_one_hour_wide_bars_on_the_whole_window(hours_with_votes):
    now = datetime(2026, 12, 2, 10, 17, tzinfo=UTC)
    start, end = staff_selectors.votes_per_hour_window(now=now)
    hours = [datetime(2026, 12, 2, 10 - index, tzinfo=UTC) for index in range(hours_with_votes)]
    plt, figure, axes = charts.votes_per_hour_figure(
        sorted(hours), [5] * hours_with_votes, start=start, end=end
    )
    figure.canvas.draw()
    left, right = axes.get_xlim()
    assert right - left == pytest.approx(3.0)  # 72 hours, in days: the window, not the bars
    axes_width = axes.get_window_extent().width
    for bar in axes.patches:
        assert bar.get_width() == pytest.approx(1 / 24)  # one hour, in days
        # A bar is one 72nd of the axes wide (the old chart drew a lone bar across all of it).
        assert bar.get_window_extent().width == pytest.approx(axes_width / 72, rel=0.05)
    assert len(axes.patches) == hours_with_votes
    plt.close(figure)
    assert end - start == timedelta(hours=72) and end == datetime(2026, 12, 2, 11, tzinfo=UTC)


def test_votes_per_hour_png_renders_with_and_without_votes():
    hour = datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert charts.votes_per_hour([hour], [3]).startswith(b"\x89PNG")
    assert charts.votes_per_hour([], []).startswith(b"\x89PNG")


def test_votes_per_hour_without_votes_still_shows_the_windows_dates():
    start, end = staff_selectors.votes_per_hour_window(now=datetime(2026, 12, 2, 10, tzinfo=UTC))
    plt, figure, axes = charts.votes_per_hour_figure([], [], start=start, end=end)
    figure.canvas.draw()
    labels = [label.get_text() for label in axes.get_xticklabels()]
    plt.close(figure)
    assert axes.get_xlim()[1] - axes.get_xlim()[0] == pytest.approx(3.0)
    # Days of the month, not the 0.0 to 1.0 of an axis that knows no dates.
    assert labels == ["30", "Dec", "02"], labels


def test_the_version_chart_draws_each_versions_difference_from_the_baseline_unjoined():
    versions = [  # issue 28's versions: each judged on its own held-out subjects
        {
            "number": 1,
            "training_set_size": 26,
            "nll": 2.9,
            "baseline_nll": 3.4,
            "difference_se": 0.2,
        },
        {
            "number": 3,
            "training_set_size": 80,
            "nll": 3.37,
            "baseline_nll": 3.07,
            "difference_se": 0.4,
        },
        {"number": 4, "training_set_size": 90, "nll": None, "baseline_nll": None},
    ]
    plt, figure, axes = charts.versions_against_baseline_figure(versions)
    points = [
        (x, y)
        for line in axes.lines
        if line.get_marker() == "o"
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
    ]
    joined = [
        line for line in axes.lines if line.get_linestyle() != "None" and len(line.get_xdata()) > 2
    ]
    caps = sorted(y for line in axes.lines if line.get_marker() == "_" for y in line.get_ydata())
    plt.close(figure)
    assert points == [(26, pytest.approx(-0.5)), (80, pytest.approx(0.3))]
    assert joined == []  # no curve through versions judged on different subjects
    assert caps == pytest.approx(
        sorted([-0.5 - 1.28 * 0.2, -0.5 + 1.28 * 0.2, 0.3 - 1.28 * 0.4, 0.3 + 1.28 * 0.4])
    )
    assert charts.versions_against_baseline([]).startswith(b"\x89PNG")


def test_the_charts_allowance_is_the_one_versions_are_judged_by():
    from mlworker.pipeline import WORSE_STANDARD_ERRORS

    assert charts.ALLOWANCE_STANDARD_ERRORS == WORSE_STANDARD_ERRORS
