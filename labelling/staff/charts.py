"""Charts drawn server-side with matplotlib (Agg) as PNG bytes. NumPy/SciPy only, no TensorFlow."""

import io
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy import stats

HOUR = timedelta(hours=1)
HOUR_IN_DAYS = 1 / 24  # matplotlib's date axis counts in days


def _figure(width=6.4, height=3.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height))
    return plt, figure, axes


def _png(plt, figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def votes_per_hour(hours: list, counts: list[int], *, start=None, end=None) -> bytes:
    """One bar per hour (`hours`: the hours' starts, aware datetimes) on a date axis from `start`
    to `end` (default: the first hour to the hour after the last), as PNG."""
    plt, figure, _ = votes_per_hour_figure(hours, counts, start=start, end=end)
    return _png(plt, figure)


def votes_per_hour_figure(hours: list, counts: list[int], *, start=None, end=None):
    """(pyplot, figure, axes) of the votes-per-hour chart. The axis spans the window, not the
    bars: autoscaling to a lone hour's bar drew that bar across the whole chart. With no votes,
    the axis still shows the window's dates (the 72 hours up to now by default)."""
    import matplotlib.dates as mdates

    plt, figure, axes = _figure()
    if hours:
        start = start or hours[0]
        end = end or hours[-1] + HOUR
        axes.bar(hours, counts, width=HOUR_IN_DAYS, align="edge", color="tab:blue")
    else:
        end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + HOUR
        start = start or end - 72 * HOUR
        axes.set_ylim(0, 1)
        axes.text(0.5, 0.5, "no votes yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlim(start, end)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.set_ylabel("classifications / hour")
    return plt, figure, axes


# mlworker.pipeline.WORSE_STANDARD_ERRORS, the allowance a version is judged by (not imported:
# that module loads TensorFlow, which web processes never do; a test checks the two agree).
ALLOWANCE_STANDARD_ERRORS = 1.28


def versions_against_baseline(versions: list[dict]) -> bytes:
    """The versions' held-out NLL minus the baseline's, as PNG: see versions_against_baseline_figure."""
    plt, figure, _ = versions_against_baseline_figure(versions)
    return _png(plt, figure)


def versions_against_baseline_figure(versions: list[dict]):
    """(pyplot, figure, axes): for each version, its held-out vote NLL minus the image-free
    baseline's on the same held-out subjects (nats per subject; below 0 the model is better),
    with a bar of ALLOWANCE_STANDARD_ERRORS standard errors of that paired difference.

    versions: [{"number", "training_set_size", "nll", "baseline_nll", "difference_se"}]. Each
    version is judged on the held-out subjects that had votes when it trained, a different set
    each time, so the points are not joined: only the difference within each version compares
    like with like."""
    plt, figure, axes = _figure()
    axes.axhline(0, color="grey", linestyle="--", label="image-free baseline (same subjects)")
    judged = [v for v in versions if None not in (v.get("nll"), v.get("baseline_nll"))]
    for version in judged:
        difference = version["nll"] - version["baseline_nll"]
        error = version.get("difference_se")
        axes.errorbar(
            version["training_set_size"],
            difference,
            yerr=None if error is None else ALLOWANCE_STANDARD_ERRORS * error,
            fmt="o",
            color="tab:red" if difference > 0 else "tab:blue",
            capsize=3,
        )
        axes.annotate(
            f"v{version['number']}",
            (version["training_set_size"], difference),
            textcoords="offset points",
            xytext=(5, 5),
            fontsize=8,
        )
    if not judged:
        axes.text(
            0.5, 0.5, "no version judged yet", ha="center", va="center", transform=axes.transAxes
        )
    axes.set_xlabel("labelled subjects in training")
    axes.set_ylabel("held-out NLL, model - baseline\n(nats per subject)")
    axes.legend(fontsize=8, loc="best")
    return plt, figure, axes


def calibration(coverage: dict[str, dict[str, float]]) -> bytes:
    """coverage {question: {"50": observed share, ...}} against the nominal interval mass."""
    plt, figure, axes = _figure(4.2, 3.2)
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    for key, values in coverage.items():
        masses = sorted(values, key=float)
        axes.plot(
            [float(m) / 100 for m in masses], [values[m] for m in masses], marker="o", label=key
        )
    axes.set_xlabel("credible interval mass")
    axes.set_ylabel("observed coverage")
    axes.legend(fontsize=8)
    return _png(plt, figure)


def vote_posterior(
    samples: list[list[float]], total_votes: int, observed_k: int | None, title: str
) -> bytes:
    """Each dropout mask's binomial curve over k faint, their mean bold, the observed k marked.

    samples: [masks][answers] probabilities; the curve is for the first answer.
    """
    plt, figure, axes = _figure(4.6, 3.0)
    k = np.arange(total_votes + 1)
    curves = np.array([stats.binom.pmf(k, total_votes, mask[0]) for mask in samples])
    for curve in curves:
        axes.plot(k, curve, color="grey", alpha=0.25, linewidth=1)
    axes.plot(
        k,
        curves.mean(axis=0),
        color="tab:green",
        linewidth=2.5,
        label="posterior (mean over masks)",
    )
    if observed_k is not None:
        axes.axvline(
            observed_k, color="tab:red", linestyle="--", label=f"observed k = {observed_k}"
        )
    axes.set_xlabel(f"volunteers (of {total_votes}) giving the first answer")
    axes.set_ylabel("probability")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7)
    return _png(plt, figure)
