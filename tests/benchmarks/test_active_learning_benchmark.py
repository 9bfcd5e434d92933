"""The active-learning benchmark's machinery on a tiny setting (the real run is `make bench-active-learning`)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--pool",
    "80",
    "--test",
    "60",
    "--initial",
    "20",
    "--batch",
    "20",
    "--rounds",
    "1",
    "--samples",
    "5",
    "--seeds",
    "2",
    "--image-size",
    "16",
    "--epochs",
    "2",
    "--strategies",
    "random,power_bald,diverse_bald",
]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tiny_run_reports_curves_intervals_the_floor_and_a_verdict(tmp_path):
    benchmark = load("active_learning", ROOT / "benchmarks" / "active_learning.py")
    result = benchmark.main([*TINY, "--results-dir", str(tmp_path), "--output", "tiny"])
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.png").stat().st_size > 1000
    assert saved["labelled"] == [20, 40]
    assert set(saved["headline"]["label_saving_vs_random"]) == {"power_bald", "diverse_bald"}
    for strategy in ("power_bald", "diverse_bald"):
        low, high = saved["headline"]["saving_95_interval"][strategy]
        assert low <= high and isinstance(saved["headline"]["verdict"][strategy], str)
    random_final = result["summary"]["random"]["nll_mean"][-1]
    assert 0 < saved["vote_noise_floor_nll"] < random_final  # no model beats the truth
    assert all(len(curve) == 2 for curve in saved["curves"]["random"])


def test_the_same_run_works_on_another_image_set_given_as_npz(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "datasets" / "oriented_bars.py"),
            str(tmp_path / "bars.npz"),
            "--n",
            "140",
            "--size",
            "16",
        ],
        check=True,
        capture_output=True,
    )
    benchmark = load("active_learning", ROOT / "benchmarks" / "active_learning.py")
    arguments = [
        *TINY,
        "--dataset",
        str(tmp_path / "bars.npz"),
        "--no-rotation-invariant",
        "--results-dir",
        str(tmp_path),
        "--output",
        "bars",
        "--strategies",
        "random,bald",
    ]
    result = benchmark.main(arguments)
    assert result["settings"]["rotation_invariant"] is False
    assert set(result["summary"]) == {"random", "bald"} and result["vote_noise_floor_nll"] > 0


def test_label_saving_interpolates_where_a_curve_reaches_randoms_final_nll():
    benchmark = load("active_learning", ROOT / "benchmarks" / "active_learning.py")
    labelled = [100, 200, 300, 400]
    assert benchmark.labels_to_reach(labelled, [5.0, 4.0, 3.0, 2.0], 3.5) == 250.0
    assert benchmark.labels_to_reach(labelled, [5.0, 4.0, 3.9, 3.8], 3.5) == float("inf")
