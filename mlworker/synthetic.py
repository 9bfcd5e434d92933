"""Synthetic galaxies whose true answer probabilities follow from what is drawn, and simulated volunteers.

Pure NumPy (no TensorFlow, no Django). Each galaxy is rendered from a few visible parameters —
arm strength, disc axis ratio, bar strength — and its true answer probabilities are smooth
functions of exactly those parameters. A perfect model can therefore reach the vote-noise floor,
and "ambiguous" galaxies are ambiguous because their features are faint, not by a coin flip.

Mix (as in real surveys): mostly smooth ellipticals of varied size, brightness and ellipticity;
a minority of featured discs with spiral arms (some barred), some edge-on discs, and faint-feature
ambiguous cases. Noise and a blurring point-spread function on every image.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from mlworker import outcomes
from mlworker.questions import GALAXY_QUESTIONS, QuestionConfig, from_dicts

QUESTION_KEYS = [question["key"] for question in GALAXY_QUESTIONS]
GALAXY_TREE = from_dicts(GALAXY_QUESTIONS)
KIND_SHARES = {"smooth": 0.58, "featured": 0.16, "barred": 0.1, "edge-on": 0.08, "ambiguous": 0.08}


@dataclass(frozen=True)
class Survey:
    """How a telescope sees the galaxies: each image's noise level (standard deviation, on pixels
    in [0, 1]) and blur (point-spread sigma, in pixels of a 64-pixel image) drawn from these ranges."""

    noise: tuple[float, float] = (0.015, 0.04)
    blur: tuple[float, float] = (0.6, 1.3)


# A second telescope for the transfer benchmark: noisier and blurrier than the default survey.
SHIFTED_SURVEY = Survey(noise=(0.04, 0.08), blur=(1.3, 2.2))


@dataclass
class GalaxySet:
    images: np.ndarray  # float32 [n, size, size] (or [n, h, w, c] from a dataset) in [0, 1]
    p: np.ndarray  # float64 [n, questions]: true probability of each question's first answer
    kinds: np.ndarray  # str [n]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def truth_from_visible(arm_strength, axis_ratio, bar_strength) -> np.ndarray:
    """True answer probabilities [n, 3] from the rendered parameters (all arrays [n]).

    p(featured) rises with the stronger of arm strength and edge-on thinness; p(edge-on) with
    thinness; p(bar) with bar strength.
    """
    thinness = np.clip((0.55 - axis_ratio) / 0.35, 0.0, 1.0)
    visibility = np.maximum(arm_strength, thinness)
    p_featured = _sigmoid((visibility - 0.3) / 0.07)
    p_edge_on = _sigmoid((thinness - 0.5) / 0.1)
    p_bar = _sigmoid((bar_strength - 0.35) / 0.08)
    return np.stack([1.0 - p_featured, p_edge_on, p_bar], axis=-1)


def _draw_parameters(
    kinds: np.ndarray, rng: np.random.Generator, survey: Survey = Survey()
) -> dict[str, np.ndarray]:
    n = len(kinds)
    arm = np.zeros(n)
    bar = np.zeros(n)
    axis_ratio = rng.uniform(0.6, 1.0, n)  # ellipticals: mild ellipticity
    disc = kinds != "smooth"
    arm[kinds == "featured"] = rng.uniform(0.45, 1.0, np.sum(kinds == "featured"))
    arm[kinds == "barred"] = rng.uniform(0.4, 0.9, np.sum(kinds == "barred"))
    bar[kinds == "barred"] = rng.uniform(0.25, 0.9, np.sum(kinds == "barred"))  # some faint bars
    axis_ratio[disc] = rng.uniform(0.6, 1.0, np.sum(disc))
    edge = kinds == "edge-on"
    axis_ratio[edge] = rng.uniform(0.12, 0.45, np.sum(edge))
    ambiguous = kinds == "ambiguous"
    arm[ambiguous] = rng.uniform(0.15, 0.45, np.sum(ambiguous))
    bar[ambiguous] = rng.uniform(0.0, 0.5, np.sum(ambiguous))
    return {
        "arm": arm,
        "bar": bar,
        "axis_ratio": axis_ratio,
        "radius": rng.uniform(0.12, 0.3, n),  # half-light radius as a share of the image
        "brightness": rng.uniform(0.55, 1.0, n),
        "angle": rng.uniform(0, np.pi, n),
        "bar_angle": rng.uniform(0, np.pi, n),
        "pitch": rng.uniform(0.25, 0.5, n),
        "phase": rng.uniform(0, 2 * np.pi, n),
        "noise": rng.uniform(*survey.noise, n),
        "blur": rng.uniform(*survey.blur, n),
        "offset": rng.normal(0, 0.02, (n, 2)),
    }


def _blur(image: np.ndarray, sigma_pixels: float) -> np.ndarray:
    """Gaussian blur (the point-spread function), 3 sigma wide, zero outside the image."""
    radius = max(1, int(3 * sigma_pixels))
    return ndimage.gaussian_filter(image, sigma_pixels, mode="constant", radius=radius)


def _render(params: dict, index: int, size: int, rng: np.random.Generator) -> np.ndarray:
    value = {name: array[index] for name, array in params.items()}
    coordinates = (np.arange(size) + 0.5) / size - 0.5
    y, x = np.meshgrid(coordinates, coordinates, indexing="ij")
    x, y = x - value["offset"][0], y - value["offset"][1]
    cos, sin = np.cos(value["angle"]), np.sin(value["angle"])
    major = x * cos + y * sin
    minor = (-x * sin + y * cos) / value["axis_ratio"]
    radius = np.sqrt(major**2 + minor**2) / value["radius"]
    light = np.exp(-1.7 * radius)  # exponential profile
    if value["arm"] > 0:
        theta = np.arctan2(minor, major)
        spiral = np.cos(
            2 * (theta - np.log(radius + 1e-3) / np.tan(value["pitch"]) - value["phase"])
        )
        ring = np.exp(-((radius - 1.2) ** 2) / 0.8)
        light = light * (1 - 0.35 * value["arm"]) + value["arm"] * 0.55 * ring * (1 + spiral) / 2
    if value["bar"] > 0:
        bar_cos, bar_sin = np.cos(value["bar_angle"]), np.sin(value["bar_angle"])
        along = (x * bar_cos + y * bar_sin) / (0.9 * value["radius"])
        across = (-x * bar_sin + y * bar_cos) / (0.18 * value["radius"])
        light = light + value["bar"] * 0.8 * np.exp(-(along**2 + across**2) / 2)
    light = light / light.max() * value["brightness"]
    light = _blur(light, value["blur"] * size / 64)
    light = light + rng.normal(0, value["noise"], light.shape)
    return np.clip(light, 0.0, 1.0).astype(np.float32)


def streams(seed: int) -> dict[str, np.random.SeedSequence]:
    """Independent seed sequences for one simulated experiment: galaxies, votes, choices.

    Every random draw of a simulation takes its own stream, so (for example) the uniform that
    picked a galaxy's kind is never reused for its first vote.
    """
    galaxies, votes, choices = np.random.SeedSequence(seed).spawn(3)
    return {"galaxies": galaxies, "votes": votes, "choices": choices}


def make_galaxies(
    n: int,
    size: int = 64,
    seed: int | np.random.SeedSequence = 0,
    survey: Survey = Survey(),
) -> GalaxySet:
    """`n` synthetic galaxies of `size` x `size` pixels as `survey` sees them, deterministic for a seed.

    Draws from a child of the seed's sequence, never from `default_rng(seed)` itself, so a caller
    who simulates votes with `default_rng(seed)` still gets votes independent of the galaxies.
    """
    if n < 0 or size < 8:
        raise ValueError(
            f"Invalid galaxy request: expected n >= 0 and size >= 8, received n={n}, size={size}"
        )
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng = np.random.default_rng(sequence.spawn(1)[0])
    names = list(KIND_SHARES)
    kinds = rng.choice(names, size=n, p=[KIND_SHARES[name] for name in names])
    params = _draw_parameters(kinds, rng, survey)
    images = (
        np.stack([_render(params, i, size, rng) for i in range(n)])
        if n
        else np.zeros((0, size, size), np.float32)
    )
    p = truth_from_visible(params["arm"], params["axis_ratio"], params["bar"])
    return GalaxySet(images=images, p=p, kinds=kinds)


def simulate_votes(
    probabilities: dict[str, np.ndarray],
    tree: Sequence[QuestionConfig],
    volunteers: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Vote counts {question: int [n, answers]} when `volunteers` classify each of n subjects,
    each walking `tree` with answer probabilities {question: [n, answers]}: the root question gets
    every volunteer, a question reached by an answer exactly the volunteers who gave it.

    The one vote simulator (outcomes.simulate_outcomes draws the whole tree's outcome); the
    functions below are its shapes for the galaxy tree and for one volunteer.
    """
    layout = outcomes.tree_layout(tree)
    columns = np.concatenate(
        [np.asarray(probabilities[key], dtype=np.float64) for key in layout.keys], axis=1
    )
    drawn = outcomes.simulate_outcomes(columns, layout, volunteers, 1, rng)
    return {
        key: drawn[:, offset : offset + answers]
        for key, offset, answers in zip(layout.keys, layout.offsets, layout.answers, strict=True)
    }


def simulate_vote_counts(
    p: np.ndarray,
    volunteers: int,
    rng: np.random.Generator,
    tree: Sequence[QuestionConfig] = GALAXY_TREE,
) -> np.ndarray:
    """Counts int [n, questions, 2] for a tree of yes/no questions (the galaxy tree unless given),
    p [n, questions] the first answers' true probabilities, columns in the tree's order. N of a
    question = counts.sum(-1)."""
    p = np.asarray(p, dtype=np.float64)
    votes = simulate_votes(
        {q.key: np.stack([p[:, i], 1 - p[:, i]], axis=-1) for i, q in enumerate(tree)},
        tree,
        volunteers,
        rng,
    )
    return np.stack([votes[q.key] for q in tree], axis=1)


def simulate_answers(
    probabilities: dict[str, Sequence[float]],
    tree: Sequence[QuestionConfig],
    rng: np.random.Generator,
) -> dict[str, str]:
    """One volunteer's answers {question: answer} along `tree`, answer probabilities per question."""
    votes = simulate_votes(
        {key: np.asarray(values, dtype=np.float64)[None] for key, values in probabilities.items()},
        tree,
        1,
        rng,
    )
    return {
        question.key: question.answers[int(np.argmax(votes[question.key][0]))]
        for question in tree
        if votes[question.key][0].sum()
    }


def simulate_annotations(p_row: np.ndarray, rng: np.random.Generator) -> dict[str, str]:
    """One volunteer's answers to the galaxy tree, p_row the first answers' true probabilities."""
    return simulate_answers(
        {key: (p_row[i], 1 - p_row[i]) for i, key in enumerate(QUESTION_KEYS)}, GALAXY_TREE, rng
    )


def image_to_png_bytes(image: np.ndarray) -> bytes:
    """[size, size] (or [size, size, 1|3]) float in [0, 1] -> PNG bytes."""
    from PIL import Image

    array = np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def load_npz_dataset(path: str | Path) -> GalaxySet:
    """Any dataset as an .npz with `images` (n, h, w[, c]) and `p` (n, questions) true probabilities."""
    with np.load(path) as archive:
        missing = [name for name in ("images", "p") if name not in archive]
        if missing:
            raise ValueError(
                f"Invalid dataset {path}: expected arrays 'images' and 'p', missing {missing}"
            )
        images = archive["images"].astype(np.float32)
        p = archive["p"].astype(np.float64)
        kinds = archive["kinds"] if "kinds" in archive else np.full(len(p), "unknown")
    if images.max() > 1.0:
        images = images / 255.0
    if len(images) != len(p) or p.ndim != 2 or images.ndim not in (3, 4):
        raise ValueError(
            f"Invalid dataset {path}: expected images (n, h, w[, c]) and p (n, questions), "
            f"received {images.shape} and {p.shape}"
        )
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"Invalid dataset {path}: p must lie in [0, 1]")
    return GalaxySet(images=images, p=p, kinds=np.asarray(kinds))
