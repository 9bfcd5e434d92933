"""The transfer benchmark's machinery on a tiny setting (the real run is `make bench-transfer`)."""

import json

import numpy as np
import pytest

from tests.benchmarks import benchmark_fixtures, readme_section

# One seed, in this process (the active-learning tiny run is the one that runs seeds side by side).
TINY = [
    *("--seeds", "1", "--pretrain", "40", "--labels", "20,40", "--test", "20"),
    *("--image-size", "16", "--samples", "5", "--epochs", "1", "--frozen-epochs", "1"),
    *("--jobs", "1"),
]


benchmark, tiny = benchmark_fixtures("transfer", TINY)


def test_a_tiny_run_writes_the_headline_the_issue_reads(tiny):
    result, folder = tiny
    saved = json.loads((folder / "tiny.json").read_text())
    assert (folder / "tiny.png").stat().st_size > 1000
    headline = saved["headline"]
    assert {"label_saving", "label_saving_interval"} <= set(headline)
    assert len(headline["label_saving_interval"]) == 2
    assert headline["seeds"] == 1 and len(saved["seeds"]) == 1
    for seed in saved["seeds"]:
        assert [p["labelled"] for p in seed["curves"]["transfer"]] == [20, 40]
        assert [p["labelled"] for p in seed["curves"]["scratch"]] == [20, 40]
    # Both arms scored on the same test galaxies: the baseline's figure is the arms' own.
    summary = saved["summary"]
    assert summary["target_nll"] == pytest.approx(
        np.mean([seed["curves"]["scratch"][-1]["nll"] for seed in saved["seeds"]]), abs=1e-4
    )


@pytest.mark.parametrize(
    "labels, message",
    [("40,20", "ascending distinct counts"), ("a,b", "comma-separated whole numbers")],
)
def test_bad_label_counts_are_refused_with_what_was_received(benchmark, labels, message, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(["--labels", labels])
    assert message in capsys.readouterr().err


def test_the_readme_section_comes_from_the_result_file(tiny, tmp_path):
    _, folder = tiny
    text = readme_section(tmp_path, "transfer", transfer=folder / "tiny.json")
    result = json.loads((folder / "tiny.json").read_text())
    assert "make bench-transfer" in text
    assert f"{result['summary']['target_nll']:.3f} nats" in text
    assert ("is met" if result["headline"]["target_met"] else "is not met") in text
