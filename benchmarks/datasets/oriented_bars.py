"""A second, non-galaxy image set whose label depends on orientation: is the bar vertical? is it bright?

Writes an .npz with `images` (n, size, size) and `p` (n, 2) true probabilities, for
`python -m benchmarks.active_learning --dataset FILE --no-rotation-invariant` (rotating these images would
change their answers, so the project setting for them is rotation_invariant = False).

    .venv/bin/python -m benchmarks.datasets.oriented_bars /tmp/oriented_bars.npz --n 3000 --size 32
"""

import numpy as np

from benchmarks.datasets import dataset_file


def make_bars(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi, n)  # 0 = horizontal, pi/2 = vertical
    brightness = rng.uniform(0.2, 1.0, n)
    length = rng.uniform(0.25, 0.45, n)
    coordinates = (np.arange(size) + 0.5) / size - 0.5
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    images = np.empty((n, size, size), dtype=np.float32)
    for i in range(n):
        centre = rng.normal(0, 0.05, 2)
        along = (x - centre[0]) * np.cos(angle[i]) + (y - centre[1]) * np.sin(angle[i])
        across = -(x - centre[0]) * np.sin(angle[i]) + (y - centre[1]) * np.cos(angle[i])
        bar = np.exp(-((along / length[i]) ** 8) - (across / 0.05) ** 2)
        images[i] = np.clip(brightness[i] * bar + rng.normal(0, 0.04, (size, size)), 0, 1)
    verticality = np.abs(np.sin(angle))  # 1 when vertical
    p_vertical = 1 / (1 + np.exp(-(verticality - 0.7) / 0.06))
    p_bright = 1 / (1 + np.exp(-(brightness - 0.6) / 0.07))
    return images, np.stack([p_vertical, p_bright], axis=-1)


def main() -> None:
    dataset_file.main(make_bars, __doc__.splitlines()[0], default_n=3000)


if __name__ == "__main__":
    main()
