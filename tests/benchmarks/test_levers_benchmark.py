"""The levers screen's machinery on a tiny setting (the real run is `make bench-levers`)."""

import json

import pytest

from tests.benchmarks import benchmark_fixtures, readme_section

TINY = (
    "--seeds 2 --labels 20,30 --pool 60 --test 30 --unlabelled 30 --pretrain-epochs 1 "
    "--image-size 16 --samples 8 --epochs 1"
).split()
benchmark, tiny = benchmark_fixtures("levers.py", TINY)


def test_a_tiny_run_writes_each_levers_effect_for_both_image_kinds(tiny):
    result, folder = tiny
    saved = json.loads((folder / "tiny.json").read_text())
    assert (folder / "tiny.png").stat().st_size > 1000
    levers = saved["headline"]["levers"]
    assert set(levers) == {"galaxies", "cells"}
    for by_lever in levers.values():
        assert set(by_lever) == {"symmetries", "temperature", "ensemble", "pretrained"}
        assert all(set(changes) == {"20", "30"} for changes in by_lever.values())
    cells = saved["seeds"][0]["cells"]
    assert cells["pretraining"]["images"] == 60 + 30  # the pool and the unlabelled, not the test
    scratch = saved["summary"]["galaxies"]["20"]["scratch"]
    assert scratch["change"] == 0 and scratch["change_interval"] == [0, 0]


def test_the_change_against_scratch_is_paired_by_seed(benchmark):
    seeds = [
        {"d": {"points": {"5": {name: {"nll": nll, "seconds": 1, "coverage": {"50": 0.5, "80": 0.8,
         "95": 0.95}, "baseline_nll": 3, "floor": 1} for name, nll in zip(("scratch", *benchmark.LEVERS),
         values, strict=True)}}, "pretraining": {"seconds": 2}}}
        for values in ([3.0, 2.5, 3.0, 3.5, 2.0], [5.0, 4.5, 5.0, 5.5, 4.0])
    ]  # fmt: skip
    arguments = type("Arguments", (), {"datasets": ["d"], "labels": [5]})
    summary = benchmark.summarise(seeds, arguments)["d"]["5"]
    assert summary["symmetries"]["change"] == pytest.approx(-0.5)  # the same in both seeds
    assert summary["symmetries"]["change_interval"] == pytest.approx([-0.5, -0.5])
    assert summary["ensemble"]["change"] == pytest.approx(0.5)
    assert summary["pretrained"]["nll"] == pytest.approx(3.0)


def test_bad_labels_are_refused_with_what_was_received(benchmark, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_arguments(["--labels", "ten"])
    assert "received 'ten'" in capsys.readouterr().err


def test_the_readme_section_comes_from_the_result_file(tiny, tmp_path):
    _, folder = tiny
    text = readme_section(tmp_path, "levers", levers=folder / "tiny.json")
    assert "| galaxies | 20 | symmetries |" in text and "benchmarks/results/levers.png" in text
