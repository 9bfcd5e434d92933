"""The first-round benchmark on a tiny setting (the real run: benchmarks/first_round.py --seeds 10)."""

import json

import numpy as np
import pytest

from benchmarks import first_round
from tests.benchmarks import readme_section

TINY = [
    *("--seeds", "2", "--pool", "40", "--test", "30", "--initial", "30"),
    *("--image-size", "16", "--epochs", "1", "--samples", "5"),
]


def test_a_tiny_run_counts_the_seeds_worse_than_the_baseline(tmp_path):
    result = first_round.main([*TINY, "--results-dir", str(tmp_path), "--output", "tiny"])
    saved = json.loads((tmp_path / "tiny.json").read_text())
    assert (tmp_path / "tiny.png").stat().st_size > 1000
    points, headline = saved["points"], saved["headline"]
    assert [p["seed"] for p in points] == [0, 1] and headline == result["headline"]
    nll = np.array([p["nll"] for p in points])
    base = np.array([p["baseline_nll"] for p in points])
    assert headline["seeds_worse_than_baseline"] == int(np.sum(nll > base))
    assert headline["nll_mean"] == pytest.approx(nll.mean(), abs=1e-4)
    assert headline["largest_margin_over_baseline"] == pytest.approx(np.max(nll - base), abs=1e-4)
    # a first model is two networks from their own initialisations (production's default)
    assert all(p["networks_trained"] == 2 for p in points)
    assert saved["settings"]["initial"] == 30 and saved["settings"]["image_size"] == 16


def test_the_readme_section_is_written_from_the_result_file(tmp_path):
    probe = ["--only-seeds", "2", "--fresh-restarts", "1"]  # one chosen seed, one initialisation
    first_round.main([*probe, *TINY[2:], "--results-dir", str(tmp_path), "--output", "t"])
    text = readme_section(tmp_path, "first-round", first_round=tmp_path / "t.json")
    saved = json.loads((tmp_path / "t.json").read_text())
    headline, (point,) = saved["headline"], saved["points"]
    assert point["seed"] == 2 and len(point["restarts_validation_nll"]) == 1
    assert saved["training"]["fresh_restarts"] == 1
    assert f"**{headline['nll_mean']:.3f}**" in text
    assert f"**{headline['seeds_worse_than_baseline']} of 1**" in text
