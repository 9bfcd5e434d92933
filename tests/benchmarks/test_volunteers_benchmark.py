"""The volunteers benchmark's machinery on a tiny setting (the real run is `make bench-volunteers`)."""

import json

import numpy as np
import pytest

from benchmarks import common, volunteers_crowd
from mlworker import reliability
from tests.benchmarks import benchmark_fixtures, readme_section

# One seed, in this process (the active-learning tiny run is the one that runs seeds side by side).
TINY = [
    *("--preset", "small", "--pool", "40", "--test", "20", "--crowd", "40", "--seeds", "1"),
    *("--image-size", "16", "--samples", "4", "--epochs", "1", "--members", "1"),
]

benchmark, tiny = benchmark_fixtures("volunteers", TINY)


def test_a_tiny_run_writes_the_headline_the_issue_reads(tiny, tmp_path):
    result, folder = tiny
    saved = json.loads((folder / "tiny.json").read_text())
    assert (folder / "tiny.png").stat().st_size > 1000
    assert {
        "nll_clean", "nll_bad_unweighted", "nll_bad_weighted", "rmse_clean",
        "rmse_bad_unweighted", "rmse_bad_weighted", "bad_found_recall", "honest_flagged_share",
    } <= set(saved["headline"])  # fmt: skip
    text = readme_section(tmp_path, "volunteers", volunteers=folder / "tiny.json")
    assert "### Careless and hostile volunteers" in text and "| bad crowd, weighted |" in text


def test_the_headline_is_the_arithmetic_of_the_seeds(tiny):
    result, _ = tiny
    seeds, head = result["seeds"], result["headline"]
    for key, condition, measure in (
        ("nll_clean", "clean_unweighted", "nll"),
        ("rmse_bad_weighted", "bad_weighted", "rmse"),
    ):
        values = [seed["conditions"][condition][measure] for seed in seeds]
        assert head[key] == pytest.approx(np.mean(values), abs=1e-4)
    # Unweighted crowds spend exactly `votes` classifications a subject; weighting only adds.
    for seed in seeds:
        conditions = seed["conditions"]
        assert conditions["bad_unweighted"]["classifications"] == 40 * 10
        assert conditions["bad_weighted"]["classifications"] >= 40 * 10


def test_honest_sessions_vote_alike_in_both_crowds_and_bad_ones_as_their_kind(benchmark):
    questions = common.questions_for(3, dataset=False)
    p = np.array([[0.9, 0.2, 0.7]] * 4)
    rng = np.random.default_rng(0)
    classifications = {
        "subject": np.repeat(np.arange(4), 3),
        "session": np.tile(np.arange(3), 4),
        "uniforms": rng.random((12, 3)),
    }
    clean = volunteers_crowd.simulate_votes(p, classifications, ["honest"] * 3, questions)
    bad = volunteers_crowd.simulate_votes(
        p, classifications, ["honest", "one-button", "hostile"], questions
    )
    honest = clean.volunteer == 0
    for name in ("subject", "question", "answer"):
        np.testing.assert_array_equal(
            getattr(clean, name)[honest], getattr(bad, name)[bad.volunteer == 0]
        )
    one_button = bad.volunteer == 1
    assert np.all(bad.answer[one_button] == 0)  # the first answer to every question reached
    # The catalogue's estimate: (k + 1/2) / (N + 1), so no votes at all is 1/2 everywhere.
    counts = reliability.weighted_counts(clean)
    nobody = [np.zeros_like(table) for table in counts]
    reach = common.true_reach(p, questions)
    expected = np.sqrt(np.sum(reach * (0.5 - p) ** 2) / np.sum(reach))
    assert volunteers_crowd.catalogue_rmse(nobody, p, reach) == pytest.approx(expected)
