"""The command line the dataset scripts share: make n images of a size and write them as .npz
(`images`, `p`, and `parents` for a set whose questions form a tree) for
`python -m benchmarks.active_learning --dataset FILE`."""

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def main(
    make: Callable[[int, int, int], tuple],
    description: str,
    default_n: int,
    parents: Sequence[int] | None = None,
) -> None:
    """`make(n, size, seed)` -> (images, p), written to the output path the command names.
    `parents`: per question, the question whose first answer leads to it (-1: every volunteer
    answers it); None: independent questions."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("output", type=Path)
    parser.add_argument("--n", type=int, default=default_n)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    if arguments.n < 1 or arguments.size < 8:
        parser.error(
            f"expected --n >= 1 and --size >= 8, received {arguments.n} and {arguments.size}"
        )
    images, p = make(arguments.n, arguments.size, arguments.seed)
    tree = {} if parents is None else {"parents": np.asarray(parents, dtype=np.int64)}
    np.savez_compressed(arguments.output, images=images, p=p, **tree)
    print(f"wrote {arguments.n} images of {arguments.size}x{arguments.size} to {arguments.output}")
