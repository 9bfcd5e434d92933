"""The active-learning benchmark's machinery on a tiny setting (the real run is `make bench-active-learning`)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import active_learning, active_learning_summary, readme_figures, runs, savings
from tests.benchmarks import ROOT, readme_section, run_tiny

TINY = [
    *("--pool", "80", "--test", "60", "--initial", "20", "--batch", "20", "--rounds", "1"),
    *("--samples", "5", "--seeds", "2", "--image-size", "16", "--epochs", "1"),
    *("--strategies", "random,power_bald,entropy"),
]


@pytest.fixture(scope="module")
def benchmark():
    return active_learning


@pytest.fixture(scope="module")
def bars(tmp_path_factory) -> Path:
    """An image set of another kind as .npz (benchmarks/datasets/oriented_bars.py), pool + test."""
    path = tmp_path_factory.mktemp("bars") / "bars.npz"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.datasets.oriented_bars", str(path)]
        + ["--n", "140", "--size", "16"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return path


@pytest.fixture(scope="module")
def tiny(benchmark, bars, tmp_path_factory):
    """The tiny run of every test below that reads one: both starts, three strategies, on the bars
    (the galaxies are the other tests' data), in this process with mlworker.pipeline's fit, score
    and select counted: (result, folder, calls, warm starts)."""
    from mlworker import pipeline

    calls = {"fit_and_evaluate": 0, "score": 0, "select": 0}
    warm_starts = []

    def counted(name):
        original = getattr(pipeline, name)

        def call(*args, **kwargs):
            calls[name] += 1
            if name == "fit_and_evaluate":
                warm_starts.append(kwargs.get("warm_start"))
            return original(*args, **kwargs)

        return call

    on_bars = ["--dataset", str(bars), "--no-rotation-invariant", "--jobs", "1"]
    with pytest.MonkeyPatch.context() as patch:
        for name in calls:
            patch.setattr(pipeline, name, counted(name))
        result, folder = run_tiny(benchmark, [*TINY, *on_bars], tmp_path_factory)
    return result, folder, calls, warm_starts


def test_a_tiny_run_reports_the_headline_the_issues_read(tiny):
    result, tmp_path, *_ = tiny
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.png").stat().st_size > 1000
    assert saved["labelled"] == [20, 40]
    headline = saved["headline"]
    assert headline["default_strategy"] in {"power_bald", "entropy"}
    assert set(headline["saving"]["entropy"]) == {"quarter", "half", "full"}
    assert set(headline["saving_interval"]["power_bald"]) == {"half", "full"}
    assert set(headline["coverage_random_300"]) == {"50", "80", "95"}
    assert len([p for curves in saved["curves"].values() for c in curves for p in c]) == 2 * 3 * 2
    points = [
        point
        for by_strategy in saved["curves_by_start"].values()
        for curves in by_strategy.values()
        for curve in curves
        for point in curve
    ]
    assert len(points) == 2 * 2 * 3 * 2  # both starts
    # The count is of the saved points themselves: a cell the file shows above the baseline counts.
    assert headline["rounds_worse_than_baseline"] == sum(
        point["nll"] > point["baseline_nll"] for point in points
    )
    assert sum(headline["rounds_worse_than_baseline_by_start"].values()) == len(
        [point for point in points if point["nll"] > point["baseline_nll"]]
    )
    for point in saved["curves"]["random"][0]:
        assert point["floor"] < point["nll"] and point["floor"] < point["baseline_nll"]
    assert result["summary"]["random"]["nll_mean"][0] == pytest.approx(
        np.mean([curve[0]["nll"] for curve in saved["curves"]["random"]])
    )


def test_every_strategy_starts_from_the_same_labelled_set_and_model(tiny):
    result, *_ = tiny
    for by_strategy in result["curves_by_start"].values():
        first = {s: [curve[0]["nll"] for curve in by_strategy[s]] for s in by_strategy}
        np.testing.assert_allclose(first["entropy"], first["random"], rtol=1e-6)


def test_each_start_and_strategy_is_measured_against_scratch_random(benchmark, tiny):
    result, *_ = tiny
    headline, labelled = result["headline"], np.array(result["labelled"])
    arms = {"scratch_power_bald", "scratch_entropy", "default_random", "default_power_bald"}
    assert set(headline["saving_vs_scratch_random"]) == arms | {"default_entropy"}
    assert set(headline["saving_vs_scratch_random_interval"]["default_random"]) == {"half", "full"}
    assert set(headline["coverage_new_default_300"]) == {"50", "80", "95"}
    coverage = headline["coverage_new_default_by_labelled"]
    assert set(coverage) == {"20", "40"} and set(coverage["40"]) == {"50", "80", "95"}
    assert coverage["20"] == active_learning_summary.coverage_at(
        result["curves_by_start"]["default"]["random"], 0
    )
    assert headline["pretraining_seconds"] == 0.0
    by_start = result["curves_by_start"]
    reference = active_learning_summary.curve_array(by_start["scratch"]["random"], "nll")
    default_random = active_learning_summary.curve_array(by_start["default"]["random"], "nll")
    expected = savings.saving(default_random, reference, labelled, 1.0)
    assert headline["saving_vs_scratch_random"]["default_random"]["full"] == round(expected, 3)
    # scratch's own savings (the keys that meant scratch before issue 25) are against its random
    assert headline["saving"]["entropy"] == headline["saving_vs_scratch_random"]["scratch_entropy"]
    assert result["training"]["scratch"]["members"] == 1
    assert result["training"]["default"]["members"] == 2
    # the model before issue 42 draws its samples as they come; the default calibrates them
    assert result["training"]["scratch"]["calibration"] == "none"
    assert result["training"]["default"]["calibration"] != "none"


def test_the_default_start_pools_members_and_scores_under_the_symmetries(benchmark):
    arguments = benchmark.parse_arguments(TINY)
    scratch_settings, scratch_changes = benchmark.training_settings(arguments, "scratch")
    default_settings, default_changes = benchmark.training_settings(arguments, "default")
    assert (scratch_settings.members, scratch_changes) == (1, {"test_time_symmetries": 1})
    assert default_settings.members > 1 and default_changes == {}
    assert scratch_settings.epochs == default_settings.epochs == 1  # the command line's, both


def test_the_readme_section_is_written_from_the_result_file(tiny, tmp_path):
    result, folder, *_ = tiny
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- active-learning -->\nstale\n<!-- /active-learning -->\nrest\n")
    readme_figures.main(readme, {"active_learning": folder / "tiny.json"})
    text = readme.read_text()
    assert "stale" not in text and text.startswith("intro") and text.endswith("rest\n")
    worse = result["headline"]["rounds_worse_than_baseline"]
    assert f"**{worse} of 24**" in text  # 2 starts x 2 seeds x 3 strategies x 2 rounds
    assert "scratch) against the new default" in text and "| default, random |" in text
    assert f"{result['summary']['random']['nll_mean'][-1]:.3f}" in text


def test_the_readme_shows_the_three_kinds_coverage_side_by_side(tiny, tmp_path):
    _, folder, *_ = tiny
    paths = {}
    for index, name in enumerate(
        ("active_learning", "active_learning_cells", "active_learning_tissue")
    ):
        result = json.loads((folder / "tiny.json").read_text())
        result["headline"]["coverage_new_default_by_labelled"] = {
            "100": {"50": 0.3, "80": 0.6, "95": 0.9},
            "300": {"50": 0.47 + index / 100, "80": 0.79, "95": 0.94},
            "500": {"50": 0.5, "80": 0.81, "95": 0.96},
        }
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(result))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- active-learning -->\n<!-- /active-learning -->\n")
    readme_figures.main(readme, paths)
    text = readme.read_text()
    assert "| labelled | galaxies | cells | tissue |" in text
    assert "| 300 | 47% / 79% / 94% | 48% / 79% / 94% | 49% / 79% / 94% |" in text
    assert "| 500 | 50% / 81% / 96% |" in text and "| 100 |" not in text
    assert "`benchmarks/results/active_learning_tissue.json`" in text


def test_the_same_run_works_on_another_image_set_given_as_npz(tiny):
    result, *_ = tiny
    assert result["settings"]["rotation_invariant"] is False
    assert result["settings"]["dataset"].endswith("bars.npz")
    assert set(result["summary"]) == {"random", "power_bald", "entropy"}
    assert result["vote_noise_floor_nll"] > 0


def test_the_benchmark_runs_productions_pipeline_functions(tiny):
    """One pipeline: every fit, score and selection goes through mlworker.pipeline."""
    result, _, calls, warm_starts = tiny
    # Per seed and start, one shared first round, then one round per strategy; a round picks
    # through production's score + select when a good model exists, at random (the queue before
    # any) when none does.
    picks = [
        point["picked_by"]
        for by_strategy in result["curves_by_start"].values()
        for curves in by_strategy.values()
        for curve in curves
        for point in curve[:-1]
    ]
    assert calls["fit_and_evaluate"] == 2 * 2 * (1 + 3)  # seeds x starts x (first + strategies)
    assert calls["score"] == calls["select"] == picks.count("model")
    assert len(picks) == 2 * 2 * 3 and set(picks) <= {"model", "random"}
    # A round warm-starts from the saved folder of the version that picked (as the retrain task
    # loads the latest good version's artefact), and from random weights when none did.
    assert warm_starts[0] is None
    assert all(start is None or isinstance(start, Path) for start in warm_starts)
    assert sum(start is not None for start in warm_starts) == picks.count("model")


def test_a_version_worse_than_the_baseline_neither_picks_nor_is_trained_on(benchmark, monkeypatch):
    """As in production: the flagged version's test point is recorded, but the next picks and the
    next warm start come from the latest good version (here: none, so random and fresh)."""
    from mlworker import pipeline

    original = pipeline.fit_and_evaluate
    warm_starts = []

    def always_worse(*args, **kwargs):
        warm_starts.append(kwargs.get("warm_start"))
        fit = original(*args, **kwargs)
        fit.worse_than_baseline = True
        return fit

    monkeypatch.setattr(pipeline, "fit_and_evaluate", always_worse)
    # bald picks through the model when a good one exists (random is the benchmark's reference).
    arguments = [*TINY, "--strategies", "random,bald", "--starts", "scratch"]
    curves = benchmark.run_seed(0, benchmark.parse_arguments(arguments))
    assert all(start is None for start in warm_starts) and len(warm_starts) == 1 + 2 * 1
    for by_strategy in curves.values():
        for curve in by_strategy.values():
            assert [point.get("picked_by") for point in curve] == ["random", None]
            assert all(point["held_out_flagged_worse"] for point in curve)


def test_a_resumed_run_keeps_the_seeds_it_finished_and_refuses_other_settings(
    benchmark, tmp_path, monkeypatch
):
    ran = []
    monkeypatch.setattr(benchmark, "run_seed", lambda seed, arguments: ran.append(seed) or {})
    arguments = benchmark.parse_arguments(
        [*TINY, "--seeds", "3", "--results-dir", str(tmp_path), "--resume"]
    )
    partial = tmp_path / "active_learning.partial.json"
    record = runs.arguments_record(arguments)
    partial.write_text(
        json.dumps({"settings": record, "seeds": [{"kept": 1}], "seed_numbers": [1], "seconds": 5})
    )
    by_seed, seconds = benchmark.seed_curves(arguments)
    assert ran == [0, 2] and by_seed == [{}, {"kept": 1}, {}] and seconds >= 5
    partial.write_text(
        json.dumps({"settings": {**record, "pool": 81}, "seeds": [], "seed_numbers": []})
    )
    with pytest.raises(SystemExit, match="pool"):
        benchmark.seed_curves(arguments)


def test_the_speed_table_is_written_from_the_result_files(tmp_path):
    speed = {
        name: readme_figures.RESULT_FILES[name]
        for name in ("mc_scoring", "round_time", "pool_scale")
    }
    text = readme_section(tmp_path, "speed", **speed)
    results = {name: json.loads(path.read_text()) for name, path in speed.items()}
    mc30 = results["mc_scoring"]["headline"]["mc30_vs_naive"]
    assert f"**{mc30['median']:.2f}x ({mc30['min']:.2f}-{mc30['max']:.2f}x)**" in text
    assert f"**{results['round_time']['headline']['round_seconds']:.0f} s**" in text
    score = results["pool_scale"]["headline"]["seconds_per_100k"]["score"]
    assert f"score **{score:.1f}**" in text
