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
