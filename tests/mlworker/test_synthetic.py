import subprocess
import sys

import numpy as np
import pytest

from mlworker import questions, synthetic


def test_galaxies_are_deterministic_shaped_and_in_range():
    first = synthetic.make_galaxies(40, size=32, seed=7)
    second = synthetic.make_galaxies(40, size=32, seed=7)
    assert first.images.shape == (40, 32, 32) and first.p.shape == (40, 3)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.images.min() >= 0 and first.images.max() <= 1
    assert np.all((first.p >= 0) & (first.p <= 1))


def test_most_galaxies_are_smooth_and_a_minority_featured():
    galaxies = synthetic.make_galaxies(1000, size=16, seed=0)
    shares = {kind: np.mean(galaxies.kinds == kind) for kind in synthetic.KIND_SHARES}
    assert 0.5 < shares["smooth"] < 0.66
    assert all(shares[kind] > 0.04 for kind in ("featured", "barred", "edge-on", "ambiguous"))
    assert np.mean(galaxies.p[galaxies.kinds == "smooth", 0]) > 0.9
    ambiguous = galaxies.p[galaxies.kinds == "ambiguous", 0]
    assert np.mean((ambiguous > 0.2) & (ambiguous < 0.8)) > 0.3


def test_truth_follows_from_what_is_drawn():
    galaxies = synthetic.make_galaxies(600, size=32, seed=2)
    # Featured galaxies spread their light: the share of light outside the core tracks p(featured).
    core = galaxies.images[:, 12:20, 12:20].sum(axis=(1, 2))
    outer = galaxies.images.sum(axis=(1, 2)) - core
    spread = outer / (core + outer)
    correlation = np.corrcoef(spread, 1 - galaxies.p[:, 0])[0, 1]
    assert correlation > 0.3


def test_votes_follow_the_tree_and_converge_to_the_truth():
    galaxies = synthetic.make_galaxies(300, size=16, seed=3)
    counts = synthetic.simulate_vote_counts(galaxies.p, 400, np.random.default_rng(0))
    totals = counts.sum(axis=-1)
    assert np.all(totals[:, 0] == 400)
    assert np.all(totals[:, 1] <= totals[:, 0]) and np.all(totals[:, 2] <= totals[:, 1])
    fraction = counts[:, 0, 0] / 400
    assert np.max(np.abs(fraction - galaxies.p[:, 0])) < 0.12


def test_a_simulated_volunteer_answers_along_the_tree():
    rng = np.random.default_rng(1)
    assert synthetic.simulate_annotations(np.array([1.0, 0.0, 0.0]), rng) == {
        "smooth-or-featured": "smooth"
    }
    assert synthetic.simulate_annotations(np.array([0.0, 0.0, 1.0]), rng) == {
        "smooth-or-featured": "featured",
        "edge-on": "no",
        "bar": "bar",
    }


def test_npz_datasets_load_and_png_encoding_works(tmp_path):
    galaxies = synthetic.make_galaxies(5, size=16, seed=0)
    np.savez(tmp_path / "data.npz", images=galaxies.images, p=galaxies.p)
    loaded = synthetic.load_npz_dataset(tmp_path / "data.npz")
    np.testing.assert_allclose(loaded.p, galaxies.p)
    assert synthetic.image_to_png_bytes(galaxies.images[0]).startswith(b"\x89PNG")


def test_importing_synthetic_loads_no_tensorflow():
    code = "import sys, mlworker.synthetic; print('tensorflow' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False"


def _galaxies_and_votes(pattern: str, seed: int):
    if pattern == "streams":  # what the benchmark does
        streams = synthetic.streams(seed)
        galaxies = synthetic.make_galaxies(3000, size=16, seed=streams["galaxies"])
        rng = np.random.default_rng(streams["votes"])
    else:  # a caller reusing one integer seed for both still gets independent draws
        galaxies = synthetic.make_galaxies(3000, size=16, seed=seed)
        rng = np.random.default_rng(seed)
    return galaxies, synthetic.simulate_vote_counts(galaxies.p, 15, rng)


@pytest.mark.parametrize("pattern", ["streams", "same-integer-seed"])
def test_simulated_votes_are_binomial_given_p_for_every_galaxy_kind(pattern):
    galaxies, counts = _galaxies_and_votes(pattern, seed=4)
    smooth_votes, p_smooth = counts[:, 0, 0], galaxies.p[:, 0]
    for kind in synthetic.KIND_SHARES:
        rows = galaxies.kinds == kind
        expected = 15 * p_smooth[rows]
        z = (smooth_votes[rows].sum() - expected.sum()) / np.sqrt(
            np.sum(expected * (1 - p_smooth[rows]))
        )
        assert abs(z) < 4, f"{kind}: votes stray from Binomial(15, p) (z = {z:.1f})"
    # The tell-tale of shared streams: smooth galaxies never got a single "featured" vote.
    smooth = galaxies.kinds == "smooth"
    got_featured = np.mean(counts[smooth, 0, 1] > 0)
    expected_share = np.mean(1 - p_smooth[smooth] ** 15)
    assert got_featured == pytest.approx(expected_share, abs=0.04) and got_featured > 0.05


def test_one_simulator_draws_any_tree_with_its_probabilities():
    tree = questions.from_dicts(
        [
            {
                "key": "kind",
                "answers": [{"key": "round"}, {"key": "cigar"}, {"key": "disc", "next": "spiral"}],
            },
            {"key": "spiral", "answers": [{"key": "yes"}, {"key": "no"}]},
        ]
    )
    n = 4000
    votes = synthetic.simulate_votes(
        {"kind": np.tile([0.2, 0.3, 0.5], (n, 1)), "spiral": np.tile([0.9, 0.1], (n, 1))},
        tree,
        1,
        np.random.default_rng(5),
    )
    assert np.allclose(votes["kind"].mean(axis=0), [0.2, 0.3, 0.5], atol=0.03)
    # exactly the volunteers who said "disc" answer "spiral", 90% of them "yes"
    assert np.array_equal(votes["spiral"].sum(axis=1), votes["kind"][:, 2])
    assert votes["spiral"][:, 0].sum() / votes["kind"][:, 2].sum() == pytest.approx(0.9, abs=0.03)
