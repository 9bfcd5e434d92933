"""A real image kind: crops of an immunohistochemistry slide, RGB, two questions in a tree.

The slide is scikit-image's `immunohistochemistry` image (human colon tissue, DAB-stained brown,
counterstained blue with hematoxylin, 512 x 512), read from the file the scikit-image wheel
ships (`skimage/data/ihc.png`): nothing is downloaded. Each crop is a square of the slide at a
random place, side (48 to 80 slide pixels), angle and mirror, resized to `size`.

The truth is measured on the full-resolution slide by a rule that is not the model: colour
deconvolution (`skimage.color.rgb2hed`) gives each slide pixel its DAB density; the crop's square
of that map, sampled at full resolution, decides the answers:

- "stained" (q0): "Is the tissue stained brown?" p rises with the share of the crop's pixels whose
  DAB density exceeds STAINED_DENSITY (Otsu's threshold on the slide); crops at a gland's edge, half
  brown, are ambiguous;
- "strong" (q1, reached from q0's "yes"): "Is the staining strong (dark brown)?" p rises with the
  mean DAB density of the stained pixels (the 1+ / 2+ / 3+ intensity score of IHC reading).

The model sees the crop at `size` pixels (32: about half the slide's resolution), so the truth is
not a function it can read off exactly. Crops overlap (one slide), as tiles of one survey field
do. Tissue has no "up": the set is rotation-invariant. Writes an .npz with `images`
(n, size, size, 3), `p` (n, 2) and `parents` ([-1, 0]: q1 is reached from q0's first answer) for
`python -m benchmarks.active_learning --dataset FILE`.

    .venv/bin/python -m benchmarks.datasets.tissue /tmp/tissue.npz --n 4000 --size 32
"""

from pathlib import Path

import numpy as np

from benchmarks.datasets import dataset_file

QUESTIONS = ("stained", "strong")
PARENTS = (-1, 0)  # q1 is asked of the volunteers who answered q0's first answer ("yes")
STAINED_DENSITY = 0.062  # Otsu's threshold on the slide's DAB density
STAINED_SHARE, STAINED_WIDTH = 0.3, 0.07
STRONG_DENSITY, STRONG_WIDTH = 0.101, 0.005  # about the median stained crop's mean density
SIDES = (48, 80)  # crop sides in slide pixels


def slide_path() -> Path:
    """The slide inside the installed scikit-image package (bundled in its wheel)."""
    import skimage.data

    path = Path(skimage.data.__file__).parent / "ihc.png"
    if not path.exists():
        raise FileNotFoundError(
            f"Expected scikit-image's bundled slide at {path}; this scikit-image does not ship it"
        )
    return path


def slide() -> tuple[np.ndarray, np.ndarray]:
    """The slide, float64 [512, 512, 3] in [0, 1], and its DAB density [512, 512]."""
    from skimage import color, io

    rgb = io.imread(slide_path())[..., :3]
    return rgb.astype(np.float64) / 255.0, color.rgb2hed(rgb)[..., 2]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def truth(density: np.ndarray) -> tuple[float, float]:
    """p of "stained" and of "strong" from a crop's DAB density at slide resolution [h, w]."""
    stained = density > STAINED_DENSITY
    share = stained.mean()
    p_stained = 0.02 + 0.96 * _sigmoid((share - STAINED_SHARE) / STAINED_WIDTH)
    mean_density = density[stained].mean() if stained.sum() >= 10 else 0.0
    p_strong = 0.02 + 0.96 * _sigmoid((mean_density - STRONG_DENSITY) / STRONG_WIDTH)
    return float(p_stained), float(p_strong)


def make_tissue(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [n, size, size, 3] in [0, 1] and true p float64 [n, 2] (q1 given q0 "yes")."""
    from skimage import transform

    rng = np.random.default_rng(seed)
    rgb, density = slide()
    stacked = np.concatenate([rgb, density[..., None]], axis=-1)
    height, width = density.shape
    images = np.zeros((n, size, size, 3), dtype=np.float32)
    p = np.zeros((n, 2))
    for item in range(n):
        side = int(rng.integers(SIDES[0], SIDES[1] + 1))
        angle = rng.uniform(0, 2 * np.pi)
        reach = side / np.sqrt(2) + 1  # the turned square stays inside the slide
        centre = np.array([rng.uniform(reach, width - reach), rng.uniform(reach, height - reach)])
        # Output (col, row) -> slide (x, y): about the crop's centre, turned by `angle`.
        turn = transform.EuclideanTransform(rotation=angle)
        shift = transform.EuclideanTransform(translation=-np.array([side, side]) / 2)
        place = transform.EuclideanTransform(translation=centre)
        crop = transform.warp(stacked, shift + turn + place, output_shape=(side, side), order=1)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        p[item] = truth(crop[..., 3])
        small = transform.resize(crop[..., :3], (size, size), anti_aliasing=True)
        images[item] = np.clip(small, 0, 1)
    return images, p


def main() -> None:
    dataset_file.main(make_tissue, __doc__.splitlines()[0], default_n=4000, parents=PARENTS)


if __name__ == "__main__":
    main()
