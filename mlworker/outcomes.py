"""The whole decision tree's vote outcome: enumeration, likelihoods and information.

`volunteers` people classify one subject, each walking the tree: everyone answers the root
question(s); a question reached by an answer is answered by exactly the volunteers who gave that
answer. The outcome y is the vector of counts k for every (question, answer) pair. Under answer
probabilities p (one vector per question),

    p(y | p) = prod_q Multinomial(k_q; N_q, p_q),   N_q = sum of the counts of the answers leading to q

All heads of the network share one dropout mask t, so for T masks the predictive is the mixture
p(y | x) = mean_t p(y | p_t) and the acquisition score is the mutual information between y and t:

    MI(x) = H[p(. | x)] - mean_t H[p(. | p_t)]          (nats)

Exact where the outcome space is small (816 outcomes for the galaxy tree with 15 volunteers); a
stated Monte Carlo estimate where it is not. NumPy only.

Shapes: `probabilities` is {question: [items, answers, samples]} (as scoring.mc_samples returns);
an outcome space's `counts` is [outcomes, all answers] in the order of `layout`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
from scipy.special import gammaln, logsumexp

# Beyond this many outcomes the information quantities are estimated by Monte Carlo.
MAX_EXACT_OUTCOMES = 50_000
# Items x samples x outcomes held in memory at once (float64): about 32 MB.
MAX_CELLS = 4_000_000
PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class TreeLayout:
    """Questions in an order where parents come first, and where each one's answers sit in `counts`."""

    keys: tuple[str, ...]
    answers: tuple[int, ...]  # answers per question
    offsets: tuple[int, ...]  # first column of each question in the counts vector
    incoming: tuple[tuple[int, ...], ...]  # per question: columns whose votes reach it; () = root

    @property
    def width(self) -> int:
        return sum(self.answers)


def tree_layout(questions: Sequence) -> TreeLayout:
    """From QuestionConfig-like objects (`key`, `answers`, `reached_from` edges)."""
    by_key = {question.key: question for question in questions}
    ordered: list = []
    while len(ordered) < len(questions):
        ready = [
            q
            for q in questions
            if q not in ordered
            and all(parent in {o.key for o in ordered} for parent, _ in q.reached_from)
        ]
        if not ready:
            pending = [q.key for q in questions if q not in ordered]
            raise ValueError(f"Invalid question tree: cycle or unknown parent among {pending}")
        ordered.extend(ready)
    offsets, position = {}, 0
    for question in ordered:
        offsets[question.key] = position
        position += len(question.answers)
    incoming = tuple(
        tuple(
            offsets[parent] + list(by_key[parent].answers).index(answer)
            for parent, answer in question.reached_from
        )
        for question in ordered
    )
    return TreeLayout(
        keys=tuple(q.key for q in ordered),
        answers=tuple(len(q.answers) for q in ordered),
        offsets=tuple(offsets[q.key] for q in ordered),
        incoming=incoming,
    )


@lru_cache(maxsize=256)
def _compositions(total: int, parts: int) -> np.ndarray:
    """Every split of `total` votes over `parts` answers: int [splits, parts]."""
    rows = []
    for bars in combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(parts)])
    return np.asarray(rows, dtype=np.int64)


def enumerate_outcomes(
    layout: TreeLayout, volunteers: int, limit: int | None = -1
) -> tuple[np.ndarray, np.ndarray] | None:
    """Every outcome: (counts int [outcomes, width], log coefficient [outcomes]), or None past `limit`.

    The log coefficient is sum_q log(N_q! / prod_a k_qa!), the combinatorial part of p(y | p).
    `limit` -1 means MAX_EXACT_OUTCOMES; None, no limit.
    """
    limit = MAX_EXACT_OUTCOMES if limit == -1 else limit
    rows = np.zeros((1, layout.width), dtype=np.int64)
    for answers, offset, incoming in zip(
        layout.answers, layout.offsets, layout.incoming, strict=True
    ):
        reached = (
            rows[:, list(incoming)].sum(axis=1) if incoming else np.full(len(rows), volunteers)
        )
        grown = []
        for total in np.unique(reached):
            splits = _compositions(int(total), answers)
            parents = rows[reached == total]
            block = np.repeat(parents, len(splits), axis=0)
            block[:, offset : offset + answers] = np.tile(splits, (len(parents), 1))
            grown.append(block)
        rows = np.concatenate(grown)
        if limit is not None and len(rows) > limit:
            return None
    return rows, _log_coefficient(layout, rows)


def _log_coefficient(layout: TreeLayout, counts: np.ndarray) -> np.ndarray:
    """sum_q log(N_q! / prod_a k_qa!) for outcome vectors [outcomes, width] -> [outcomes]."""
    counts = np.asarray(counts, dtype=np.float64)
    result = -gammaln(counts + 1).sum(axis=-1)
    for answers, offset in zip(layout.answers, layout.offsets, strict=True):
        result += gammaln(counts[..., offset : offset + answers].sum(axis=-1) + 1)
    return result


def stacked_log_probabilities(probabilities: dict, layout: TreeLayout) -> np.ndarray:
    """{question: [items, answers, samples]} -> log p [items, width, samples] in layout order."""
    parts = [np.asarray(probabilities[key], dtype=np.float64) for key in layout.keys]
    return np.log(np.clip(np.concatenate(parts, axis=1), PROBABILITY_FLOOR, 1.0))


def outcome_log_likelihood(
    log_p: np.ndarray, counts: np.ndarray, log_coefficient: np.ndarray
) -> np.ndarray:
    """log p(y | p_t) for each item, mask and outcome: log_p [items, width, T],
    counts [outcomes, width] -> [items, T, outcomes]."""
    return log_coefficient[None, None, :] + np.einsum(
        "sw,iwt->its", np.asarray(counts, dtype=np.float64), log_p
    )


def _item_chunks(items: int, samples: int, outcomes: int):
    step = max(1, MAX_CELLS // max(1, samples * outcomes))
    for start in range(0, items, step):
        yield slice(start, min(items, start + step))


def _entropy_terms(log_joint: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """From log p(y | t) [items, T, outcomes]: (H[mixture] [items], mean_t H[p(. | t)] [items])."""
    per_mask = np.exp(log_joint)
    log_mixture = logsumexp(log_joint, axis=1) - np.log(samples)
    mixture_entropy = -np.sum(np.exp(log_mixture) * log_mixture, axis=-1)
    mask_entropy = -np.sum(per_mask * log_joint, axis=-1).mean(axis=1)
    return mixture_entropy, mask_entropy


def information(
    probabilities: dict,
    questions: Sequence,
    volunteers: int,
    *,
    rng: np.random.Generator | None = None,
    draws_per_mask: int = 8,
    max_exact_outcomes: int | None = -1,
) -> dict[str, np.ndarray]:
    """Joint information of the tree's vote outcome with `volunteers` classifying each item.

    Returns {"mutual_information": [items], "predictive_entropy": [items], "exact": bool}. Exact
    enumeration when the outcome space has at most MAX_EXACT_OUTCOMES outcomes; otherwise a Monte
    Carlo estimate from `draws_per_mask` simulated outcomes per mask (unbiased for MI's
    expectation of log p(y|t) - log p(y); the entropy term is estimated the same way).
    """
    layout = tree_layout(questions)
    log_p = stacked_log_probabilities(probabilities, layout)
    items, _, samples = log_p.shape
    space = enumerate_outcomes(layout, volunteers, max_exact_outcomes)
    mutual_information = np.zeros(items)
    predictive_entropy = np.zeros(items)
    if space is not None:
        counts, log_coefficient = space
        for rows in _item_chunks(items, samples, len(counts)):
            log_joint = outcome_log_likelihood(log_p[rows], counts, log_coefficient)
            mixture_entropy, mask_entropy = _entropy_terms(log_joint, samples)
            predictive_entropy[rows] = mixture_entropy
            mutual_information[rows] = mixture_entropy - mask_entropy
    else:
        rng = rng or np.random.default_rng(0)
        for item in range(items):
            drawn = simulate_outcomes(
                np.exp(log_p[item].T), layout, volunteers, draws_per_mask, rng
            )  # [T * draws, width], draws of mask t first
            log_joint = outcome_log_likelihood(
                log_p[item : item + 1], drawn, _log_coefficient(layout, drawn)
            )[0]  # [T, T * draws]
            log_mixture = logsumexp(log_joint, axis=0) - np.log(samples)
            own = log_joint[np.repeat(np.arange(samples), draws_per_mask), np.arange(len(drawn))]
            mutual_information[item] = np.mean(own - log_mixture)
            predictive_entropy[item] = -np.mean(log_mixture)
    return {
        "mutual_information": np.maximum(mutual_information, 0.0),
        "predictive_entropy": predictive_entropy,
        "exact": space is not None,
    }


def simulate_outcomes(
    probabilities: np.ndarray,
    layout: TreeLayout,
    volunteers: int,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Outcomes drawn with answer probabilities [rows, width] (rows of the layout's columns):
    `draws` outcomes per row -> int [rows * draws, width], row 0's draws first."""
    probabilities = np.repeat(np.asarray(probabilities, dtype=np.float64), draws, axis=0)
    counts = np.zeros(probabilities.shape, dtype=np.int64)
    for answers, offset, incoming in zip(
        layout.answers, layout.offsets, layout.incoming, strict=True
    ):
        reached = (
            counts[:, list(incoming)].sum(axis=1)
            if incoming
            else np.full(len(counts), volunteers, dtype=np.int64)
        )
        columns = probabilities[:, offset : offset + answers]
        columns = columns / columns.sum(axis=1, keepdims=True)
        counts[:, offset : offset + answers] = rng.multinomial(reached, columns)
    return counts


def observed_log_likelihood(probabilities: dict, counts: dict, questions: Sequence) -> np.ndarray:
    """log p(y_observed | x) under the MC mixture, joint over the tree's questions.

    probabilities {question: [items, answers, T]}, counts {question: int [items, answers]}
    (partial counts are fine: N_q is what was observed) -> [items].
    """
    layout = tree_layout(questions)
    log_p = stacked_log_probabilities(probabilities, layout)
    observed = np.concatenate(
        [np.asarray(counts[key], dtype=np.float64) for key in layout.keys], axis=1
    )
    log_coefficient = _log_coefficient(layout, observed)
    per_mask = log_coefficient[:, None] + np.einsum("iw,iwt->it", observed, log_p)
    return logsumexp(per_mask, axis=-1) - np.log(log_p.shape[-1])


def exact_space(questions: Sequence, volunteers: int):
    """(layout, counts, log coefficient) of every outcome; refuses spaces too large to enumerate."""
    layout = tree_layout(questions)
    space = enumerate_outcomes(layout, volunteers)
    if space is None:
        raise ValueError(
            f"The tree's outcome space with {volunteers} volunteers is larger than "
            f"{MAX_EXACT_OUTCOMES}: expected likelihoods need exact enumeration"
        )
    return layout, *space


def true_log_likelihood(true_probabilities: dict, layout, counts, log_coefficient) -> np.ndarray:
    """log p_true(y) of every outcome: true_probabilities {question: [items, answers]} ->
    [items, outcomes]."""
    log_true = stacked_log_probabilities(
        {key: np.asarray(value)[..., None] for key, value in true_probabilities.items()}, layout
    )
    return outcome_log_likelihood(log_true, counts, log_coefficient)[:, 0, :]


def expected_log_likelihood(
    probabilities: dict,
    true_probabilities: dict,
    questions: Sequence,
    volunteers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """E_{y ~ true p}[log p_model(y | x)] and the floor E[log p_true(y)] (minus the entropy), per item.

    probabilities: {question: [items, answers, T]} (a model's MC samples; T = 1 for a point
    prediction); true_probabilities: {question: [items, answers]}. Exact by enumeration (the
    benchmark's test NLL without vote noise). Returns (expected log-likelihood [items], floor [items]).
    """
    layout, counts, log_coefficient = exact_space(questions, volunteers)
    log_p = stacked_log_probabilities(probabilities, layout)
    log_truth = true_log_likelihood(true_probabilities, layout, counts, log_coefficient)
    items, _, samples = log_p.shape
    expected = np.zeros(items)
    for rows in _item_chunks(items, samples, len(counts)):
        log_model = logsumexp(
            outcome_log_likelihood(log_p[rows], counts, log_coefficient), axis=1
        ) - np.log(samples)
        expected[rows] = np.sum(np.exp(log_truth[rows]) * log_model, axis=-1)
    floor = np.sum(np.exp(log_truth) * log_truth, axis=-1)
    return expected, floor
