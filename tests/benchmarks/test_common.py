"""The benchmarks' shared machinery (benchmarks/common.py): data from independent streams."""

from argparse import Namespace

import numpy as np
import pytest

from benchmarks import common


def test_data_votes_and_choices_come_from_independent_streams():
    arguments = Namespace(
        pool=1500, test=10, initial=100, image_size=16, volunteers=15, dataset=None
    )
    data = common.make_data(0, arguments)
    smooth = data["pool_p"][:, 0] > 0.9
    got_featured = np.mean(data["pool_counts"][smooth, 0, 1] > 0)
    assert got_featured == pytest.approx(np.mean(1 - data["pool_p"][smooth, 0] ** 15), abs=0.05)
