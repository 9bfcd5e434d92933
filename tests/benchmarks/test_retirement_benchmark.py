"""The retirement benchmark's machinery on a tiny setting (the real run is `make bench-retirement`)."""

import json

import numpy as np
import pytest

from benchmarks import common
from tests.benchmarks import benchmark_fixtures, readme_section

TINY = [
    *("--pool", "30", "--initial", "40", "--seeds", "2", "--image-size", "16"),
    *("--samples", "5", "--epochs", "1", "--rules", "0.2,0.1/0.3/4"),
]


benchmark, tiny = benchmark_fixtures("retirement", TINY)


def test_a_tiny_run_writes_the_headline_the_issue_reads(tiny):
    result, folder = tiny
    saved = json.loads((folder / "tiny.json").read_text())
    assert (folder / "tiny.png").stat().st_size > 1000
    headline = saved["headline"]
    assert {"votes_saved", "votes_saved_interval", "share_off_by_0_2"} <= set(headline)
    assert {"votes_saved_equal_rmse", "votes_saved_equal_rmse_interval"} <= set(headline)
    assert len(headline["votes_saved_interval"]) == 2
    assert len(headline["votes_saved_equal_rmse_interval"]) == 2
    assert headline["rule"] == "0.2" and set(saved["by_rule"]) == {"0.2", "0.1/0.3/4"}
    assert (headline["threshold"], headline["max_expected_change"]) == (0.2, 1.0)
    assert headline["best_rule"] in saved["by_rule"]
    assert [seed["fixed_votes"] for seed in saved["seeds"]] == [30 * 15] * 2


def test_the_headline_is_the_arithmetic_of_the_seeds(tiny):
    result, _ = tiny
    seeds = [seed["by_rule"]["0.2"] for seed in result["seeds"]]
    savings = [
        max(-1.0, 1 - s["votes_needed"] / 450) if s["votes_needed"] is not None else -1.0
        for s in seeds
    ]
    assert result["headline"]["votes_saved"] == pytest.approx(np.mean(savings), abs=1e-4)
    retired = sum(s["retired_by_model"] for s in seeds)
    off = sum(s["off_by_0_2"] for s in seeds)
    assert result["headline"]["share_off_by_0_2"] == pytest.approx(
        off / retired if retired else 0.0, abs=1e-4
    )
    for seed in result["seeds"]:
        entry = seed["by_rule"]["0.2"]
        if seed["model_worse_than_baseline"]:  # a flagged version retires nothing early
            assert entry["retired_by_model"] == 0 and entry["votes_total"] == 450
        assert entry["votes_total"] <= seed["fixed_votes"]


def crossing(votes, rmse, target) -> float | None:
    """Where the curve, linear between its points, first comes down to `target` (None: never)."""
    for i, value in enumerate(rmse):
        if value <= target:
            if i == 0:
                return votes[0]
            share = (rmse[i - 1] - target) / (rmse[i - 1] - value)
            return votes[i - 1] + share * (votes[i] - votes[i - 1])
    return None


def test_the_saving_within_the_margin_is_read_off_each_seeds_curve_at_1_02_times_fixed(tiny):
    result, _ = tiny
    savings = []
    for seed in result["seeds"]:
        entry = seed["by_rule"]["0.2"]
        needed = crossing(
            entry["curve_votes"], entry["curve_rmse"], 1.02 * seed["fixed_final_rmse"]
        )
        savings.append(-1.0 if needed is None else max(-1.0, 1 - needed / seed["fixed_votes"]))
    headline = result["headline"]
    assert headline["equal_rmse_margin"] == 1.02
    assert headline["votes_saved_equal_rmse"] == pytest.approx(np.mean(savings), abs=1e-4)
    assert headline["seeds_within_equal_rmse"] == sum(saving > -1.0 for saving in savings)
    # Within the margin is never harder than reaching the fixed rule's RMSE exactly.
    assert headline["votes_saved_equal_rmse"] >= headline["votes_saved"] - 0.01


def test_resummarising_rebuilds_the_figures_from_the_seeds_alone(benchmark, tiny, tmp_path):
    result, folder = tiny
    stale = json.loads((folder / "tiny.json").read_text())
    for key in ("votes_saved_equal_rmse", "votes_saved_equal_rmse_interval"):
        del stale["headline"][key]
        for entry in stale["by_rule"].values():
            del entry[key]
    (tmp_path / "tiny.json").write_text(json.dumps(stale))
    again = benchmark.main(["--resummarise", "--results-dir", str(tmp_path), "--output", "tiny"])
    # compared as JSON text: two seeds give NaN intervals, and NaN != NaN
    for part in ("headline", "by_rule"):
        assert json.dumps(again[part], sort_keys=True) == json.dumps(result[part], sort_keys=True)
    assert again["seeds"] == json.loads(json.dumps(result["seeds"]))
    assert again["resummarised"]["from_run_of"] and (tmp_path / "tiny.png").stat().st_size > 1000
    written = json.loads((tmp_path / "tiny.json").read_text())["headline"]
    assert json.dumps(written, sort_keys=True) == json.dumps(result["headline"], sort_keys=True)
    with pytest.raises(SystemExit, match="no result file"):
        benchmark.main(["--resummarise", "--results-dir", str(tmp_path), "--output", "nothing"])


def test_the_catalogue_curve_swaps_prior_errors_for_final_ones_subject_by_subject(benchmark):
    results = [{"votes": 3}, {"votes": 15}]
    prior_error = np.array([[0.4, 0.0], [0.2, 0.0]])
    errors = np.array([[0.1, 0.0], [0.0, 0.0]])
    weights = np.array([[1.0, 0.0], [1.0, 1.0]])
    votes, rmse = benchmark.curve(results, prior_error, errors, weights, np.array([1, 0]))
    assert votes.tolist() == [0, 15, 18]
    expected = [np.sqrt((0.16 + 0.04) / 3), np.sqrt(0.16 / 3), np.sqrt(0.01 / 3)]
    np.testing.assert_allclose(rmse, expected)


def test_a_sure_right_model_retires_a_smooth_subject_after_the_minimum(benchmark):
    from labelling.retirement import rule as retirement
    from mlworker import synthetic

    questions = common.questions_for(3, dataset=False)
    sure = {q.key: np.tile([0.01, 0.99], (10, 1)) for q in questions}
    sure["smooth-or-featured"] = np.tile([0.99, 0.01], (10, 1))
    rng = np.random.default_rng(0)
    annotations = [
        synthetic.simulate_annotations(np.array([1.0, 0.0, 0.0]), rng) for _ in range(15)
    ]
    result = benchmark.run_subject(sure, annotations, questions, retirement.Rule(15, 0.2))
    assert result["votes"] == 3 and result["by_model"]
    assert result["estimate"]["smooth-or-featured"] > 0.95
    fixed = benchmark.run_subject(sure, annotations, questions, None)
    assert fixed["votes"] == 15 and fixed["estimate"]["smooth-or-featured"] == 1.0


def test_the_readme_section_is_written_from_the_result_file(tiny, tmp_path):
    result, folder = tiny
    text = readme_section(tmp_path, "retirement", retirement=folder / "tiny.json")
    headline = result["headline"]
    assert f"| {headline['fixed_final_rmse']:.4f} |" in text
    for entry in result["by_rule"].values():
        assert (
            f"| {entry['model_aware_final_rmse']:.4f} | {entry['votes_saved_equal_rmse']:.0%} ("
            in text
        )
    met = headline["votes_saved"] >= 0.4 and headline["votes_saved_interval"][0] > 0
    met = met and headline["share_off_by_0_2"] <= 0.02
    assert ("is met by the default rule" if met else "is not met by the default rule") in text
    assert "width < 0.1 / change < 0.3 / minimum 4" in text


def test_a_rule_that_is_not_width_change_minimum_is_refused_with_the_form(benchmark):
    for text in ("0.2/x", "0.2/1/3/9", "2", "0.2/-1"):
        with pytest.raises(SystemExit, match="Invalid rule .*width\\[/max expected change"):
            benchmark.parse_arguments(["--rules", text])
