"""The real image kind (benchmarks/datasets/tissue.py): crops of scikit-image's bundled IHC slide."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import skimage

from benchmarks import common
from benchmarks.datasets import tissue
from mlworker import synthetic
from tests.benchmarks import ROOT


def test_the_slide_is_the_file_inside_the_installed_scikit_image_package():
    path = tissue.slide_path()
    assert Path(skimage.__file__).parent in path.parents  # shipped in the wheel, not fetched
    rgb, density = tissue.slide()
    assert rgb.shape == (512, 512, 3) and density.shape == (512, 512)


def test_crops_have_the_asked_shape_a_truth_in_0_1_and_repeat_by_seed():
    images, p = tissue.make_tissue(12, 16, seed=3)
    assert images.shape == (12, 16, 16, 3) and images.dtype == np.float32
    assert p.shape == (12, 2) and np.all((p >= 0.02) & (p <= 0.98))
    assert 0.0 <= images.min() and images.max() <= 1.0
    again, p_again = tissue.make_tissue(12, 16, seed=3)
    other, _ = tissue.make_tissue(12, 16, seed=4)
    assert np.array_equal(images, again) and np.array_equal(p, p_again)
    assert not np.array_equal(images, other)


def test_the_truth_follows_the_brown_share_and_the_stain_density():
    unstained, weak, dark = np.zeros((40, 40)), np.full((40, 40), 0.08), np.full((40, 40), 0.13)
    half = unstained.copy()
    half[:, :20] = 0.13
    assert tissue.truth(unstained)[0] < 0.05 and tissue.truth(unstained)[1] < 0.021
    assert tissue.truth(weak)[0] > 0.97 and tissue.truth(weak)[1] < 0.05
    assert tissue.truth(dark)[0] > 0.97 and tissue.truth(dark)[1] > 0.97
    assert 0.5 < tissue.truth(half)[0] < tissue.truth(dark)[0]  # half the crop brown


def test_the_written_set_asks_the_second_question_of_those_who_answered_yes(tmp_path):
    path = tmp_path / "tissue.npz"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.datasets.tissue",
            str(path),
            "--n",
            "10",
            "--size",
            "16",
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    loaded = synthetic.load_npz_dataset(path)
    assert loaded.images.shape == (10, 16, 16, 3)
    questions = common.questions_for(2, True, common.dataset_parents(path))
    assert [q.reached_from for q in questions] == [(), (("q0", "yes"),)]
    counts = synthetic.simulate_vote_counts(
        np.array([[0.98, 0.5]] * 50), 15, np.random.default_rng(0), questions
    )
    assert np.array_equal(counts[:, 1].sum(-1), counts[:, 0, 0])  # N of q1 = q0's yes votes
