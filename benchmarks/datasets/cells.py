"""A second image set of another kind: fluorescence-microscopy cells, RGB, two yes/no questions.

Each image is one cell at the centre of a crop, with parts of neighbouring cells at the edges:
cytoplasm in green (an irregular ellipse of random size, elongation and angle), the nucleus or
nuclei in blue, and small red puncta (an infection marker) scattered inside the cytoplasm. The
illumination is uneven, the optics blur, the camera adds noise. The truth follows from what is
drawn, as in mlworker/synthetic.py:

- "dividing": p rises with the distance between the two nuclei of a dividing cell (two nuclei
  drawn on top of each other look like one, so close pairs are ambiguous); a cell with one nucleus
  has p near 0;
- "infected": p rises with the puncta's total brightness (a few faint puncta are ambiguous).

Cells have no "up": the set is rotation-invariant. Writes an .npz with `images` (n, size, size, 3)
and `p` (n, 2) for `python -m benchmarks.active_learning --dataset FILE`.

    .venv/bin/python -m benchmarks.datasets.cells /tmp/cells.npz --n 12000 --size 32
"""

import numpy as np
from scipy import ndimage

from benchmarks.datasets import dataset_file

QUESTIONS = ("dividing", "infected")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _blob(y, x, centre, radius, axis_ratio=1.0, angle=0.0, wobble=None):
    """A soft-edged ellipse (values in [0, 1]) on the grid, its edge perturbed by `wobble`."""
    dy, dx = y - centre[0], x - centre[1]
    along = dx * np.cos(angle) + dy * np.sin(angle)
    across = (-dx * np.sin(angle) + dy * np.cos(angle)) / axis_ratio
    distance = np.hypot(along, across)
    edge = radius
    if wobble is not None:
        theta = np.arctan2(across, along)
        edge = radius * (
            1 + sum(a * np.cos((k + 2) * theta + p) for k, (a, p) in enumerate(wobble))
        )
    return _sigmoid((edge - distance) / 0.6)


def make_cells(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [n, size, size, 3] in [0, 1] and true p float64 [n, 2]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    scale = size / 32
    images = np.zeros((n, size, size, 3), dtype=np.float32)
    p = np.zeros((n, 2))
    for item in range(n):
        image = np.zeros((size, size, 3))
        centre = size / 2 + rng.normal(0, 1.0 * scale, 2)
        radius = rng.uniform(6.0, 10.0) * scale
        axis_ratio = rng.uniform(0.45, 1.0)
        angle = rng.uniform(0, np.pi)
        wobble = [(rng.uniform(0, 0.08), rng.uniform(0, 2 * np.pi)) for _ in range(3)]
        cytoplasm = _blob(y, x, centre, radius, axis_ratio, angle, wobble)
        image[..., 1] += rng.uniform(0.35, 0.7) * cytoplasm
        for _ in range(rng.poisson(1.5)):  # neighbours, cut by the frame
            side = rng.uniform(0, 2 * np.pi)
            where = size / 2 + (0.55 * size + rng.uniform(0, 0.2 * size)) * np.array(
                [np.sin(side), np.cos(side)]
            )
            neighbour = _blob(y, x, where, rng.uniform(6, 10) * scale, rng.uniform(0.5, 1), 0.0)
            image[..., 1] += rng.uniform(0.3, 0.6) * neighbour
            image[..., 2] += rng.uniform(0.3, 0.6) * _blob(y, x, where, 2.5 * scale)
        nucleus_radius = rng.uniform(2.2, 3.2) * scale
        dividing = rng.random() < 0.35
        separation = rng.uniform(0.0, 1.6 * radius * axis_ratio + 2) if dividing else 0.0
        offset = 0.5 * separation * np.array([np.sin(angle), np.cos(angle)])
        for sign in (1, -1) if dividing else (0,):
            nucleus = _blob(y, x, centre + sign * offset, nucleus_radius, 0.85, angle)
            image[..., 2] = np.maximum(image[..., 2], rng.uniform(0.55, 0.9) * nucleus)
        p[item, 0] = _sigmoid((separation - 2.2 * nucleus_radius) / (0.35 * nucleus_radius))
        p[item, 0] = 0.02 + 0.96 * p[item, 0] if dividing else 0.02
        puncta = rng.poisson(rng.choice([0.3, 4.0], p=[0.6, 0.4]))
        total = 0.0
        for _ in range(puncta):
            r, t = radius * np.sqrt(rng.uniform(0, 0.8)), rng.uniform(0, 2 * np.pi)
            where = centre + r * np.array([axis_ratio * np.sin(t), np.cos(t)])
            brightness = rng.uniform(0.15, 0.8)
            image[..., 0] += brightness * _blob(y, x, where, rng.uniform(0.7, 1.2) * scale)
            total += brightness
        p[item, 1] = 0.02 + 0.96 * _sigmoid((total - 1.0) / 0.25)
        illumination = 1 + rng.uniform(-0.25, 0.25) * (x - size / 2) / size
        image = image * illumination[..., None] + rng.uniform(0.0, 0.06)
        image = ndimage.gaussian_filter(image, (rng.uniform(0.5, 1.1) * scale,) * 2 + (0,))
        image += rng.normal(0, rng.uniform(0.02, 0.05), image.shape)
        images[item] = np.clip(image, 0, 1)
    return images, p


def main() -> None:
    dataset_file.main(make_cells, __doc__.splitlines()[0], default_n=12000)


if __name__ == "__main__":
    main()
