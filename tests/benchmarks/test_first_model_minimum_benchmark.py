"""The first-model-minimum benchmark on a tiny setting (the real run: make bench-first-model-minimum)."""

import json

import pytest

from benchmarks import first_model_minimum, runs
from tests.benchmarks import readme_section

TINY = [
    *("--seeds", "1", "--sizes", "12,24", "--votes", "2", "--pool", "40", "--test", "20"),
    *("--image-size", "16", "--epochs", "1", "--samples", "4"),
]


def test_a_tiny_run_summarises_each_size_and_names_the_minimum_it_chose(tmp_path):
    result = first_model_minimum.main([*TINY, "--results-dir", str(tmp_path), "--output", "tiny"])
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.png").stat().st_size > 1000 and saved["headline"] == result["headline"]
    head = saved["headline"]
    assert list(head["by_size"]) == ["12", "24"] and head["seeds"] == 1
    for size, entry in head["by_size"].items():
        points = [seed["by_size"][size] for seed in saved["seeds"]]
        worse = sum(p["nll"] > p["baseline_nll"] for p in points)
        assert entry["seeds_worse_than_baseline"] == worse
        assert entry["nll_mean"] == pytest.approx(points[0]["nll"], abs=1e-4)
    # The rule: the smallest size with no seed worse and enough held-out subjects (or none).
    expected = next(
        (
            int(size)
            for size, entry in head["by_size"].items()
            if entry["seeds_worse_than_baseline"] == 0
            and entry["held_out_mean"] >= first_model_minimum.MIN_HELD_OUT
        ),
        None,
    )
    assert head["minimum_labelled_subjects"] == expected
    text = readme_section(
        tmp_path, "first-model-minimum", first_model_minimum=tmp_path / "tiny.json"
    )
    assert "| 24 |" in text and "retrain_minimum_labelled_subjects" in text


def test_the_project_default_is_the_minimum_the_committed_run_chose():
    from labelling.models import Project

    saved = json.loads((runs.RESULTS / "first_model_minimum.json").read_text())
    default = Project._meta.get_field("retrain_minimum_labelled_subjects").default
    assert default == saved["headline"]["minimum_labelled_subjects"]
