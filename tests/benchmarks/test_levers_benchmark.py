"""The levers screen's machinery on a tiny setting (the real run is `make bench-levers`)."""

import json

import numpy as np
import pytest

from tests.benchmarks import benchmark_fixtures, readme_section

# One seed, in this process: the change against scratch over seeds is checked on its own below.
TINY = (
    "--seeds 1 --labels 20 --pool 60 --test 30 --unlabelled 30 --pretrain-epochs 1 "
    "--image-size 16 --samples 8 --epochs 1"
).split()
benchmark, tiny = benchmark_fixtures("levers", TINY)


def test_a_tiny_run_writes_each_levers_effect_for_both_image_kinds(benchmark, tiny):
    result, folder = tiny
    saved = json.loads((folder / "tiny.json").read_text())
    assert (folder / "tiny.png").stat().st_size > 1000
    levers = saved["headline"]["levers"]
    assert set(levers) == {"galaxies", "cells"}
    for by_lever in levers.values():
        assert set(by_lever) == set(benchmark.LEVERS)
        assert all(set(changes) == {"20"} for changes in by_lever.values())
    cells = saved["seeds"][0]["cells"]
    assert cells["pretraining"]["images"] == 60 + 30  # the pool and the unlabelled, not the test
    scratch = saved["summary"]["galaxies"]["20"]["scratch"]
    assert scratch["change"] == 0 and scratch["change_interval"] == [0, 0]


def test_the_change_against_scratch_is_paired_by_seed(benchmark):
    seeds = [
        {"d": {"points": {"5": {name: {"nll": nll, "seconds": 1, "coverage": {"50": 0.5, "80": 0.8,
         "95": 0.95}, "baseline_nll": 3, "floor": 1} for name, nll in zip(("scratch", "symmetries", "temperature", "ensemble", "pretrained"),
         values, strict=True)}}, "pretraining": {"seconds": 2}}}
        for values in ([3.0, 2.5, 3.0, 3.5, 2.0], [5.0, 4.5, 5.0, 5.5, 4.0])
    ]  # fmt: skip
    levers = ["symmetries", "temperature", "ensemble", "pretrained"]
    arguments = type("Arguments", (), {"datasets": ["d"], "labels": [5], "levers": levers})
    summary = benchmark.summarise(seeds, arguments)["d"]["5"]
    assert summary["symmetries"]["change"] == pytest.approx(-0.5)  # the same in both seeds
    assert summary["symmetries"]["change_interval"] == pytest.approx([-0.5, -0.5])
    assert summary["ensemble"]["change"] == pytest.approx(0.5)
    assert summary["pretrained"]["nll"] == pytest.approx(3.0)


def test_bad_labels_are_refused_with_what_was_received(benchmark, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(["--labels", "ten"])
    assert "received 'ten'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(["--levers", "magic"])
    assert "expected some of" in capsys.readouterr().err


def test_overdispersion_keeps_each_sample_mean_and_widens_the_spread(benchmark):
    rng = np.random.default_rng(0)
    p = rng.dirichlet([2, 3], size=(200, 1)).transpose(0, 2, 1)  # [items, answers, T=1]
    spread = benchmark.dirichlet_spread({"q": p}, 20.0, draws=2000, seed=1)["q"]
    assert spread.shape == (200, 2, 2000)
    np.testing.assert_allclose(spread.mean(axis=-1), p[..., 0], atol=0.02)
    # Dirichlet(c p) has variance p (1 - p) / (c + 1) about its mean
    expected = p[:, 0, 0] * (1 - p[:, 0, 0]) / 21
    np.testing.assert_allclose(spread[:, 0].var(axis=-1), expected, rtol=0.15)
    assert benchmark.dirichlet_spread({"q": p}, np.inf, draws=4, seed=1)["q"] is p


def test_the_readme_section_comes_from_the_result_file(tiny, tmp_path):
    _, folder = tiny
    text = readme_section(
        tmp_path,
        "levers",
        levers=folder / "tiny.json",
        levers_more=folder / "tiny.json",
        levers_consistency=folder / "tiny.json",
    )
    assert "| galaxies | 20 | symmetries |" in text and "benchmarks/results/levers.png" in text
    assert "A second screen" in text and "| cells | 20 | selection |" in text
    assert "A third screen" in text and "| galaxies | 20 | consistency |" in text
