"""Acquisition maths in NumPy: vote posteriors, mutual information (BALD), entropy, batch selection.

Shapes: MC samples of one question are [items, answers, samples]; of one answer, [items, samples].
All information quantities are in nats.

For a subject x and mask t with answer probability p_t, and N votes:
    p(k | x, t) = Binomial(k; N, p_t),       p(k | x) = mean_t p(k | x, t)
    MI(x) = H[p(. | x)] - mean_t H[p(. | x, t)]
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats
from scipy.special import gammaln, logsumexp

STRATEGIES = ("bald", "power_bald", "diverse_bald", "entropy", "random")


def _binomial_pmf(probabilities: np.ndarray, total_votes: int) -> np.ndarray:
    """Binomial(k; N, p) for k = 0..N: [..., N + 1] from probabilities [...]."""
    k = np.arange(total_votes + 1)
    return stats.binom.pmf(k, total_votes, np.asarray(probabilities, dtype=np.float64)[..., None])


def _entropy(distribution: np.ndarray) -> np.ndarray:
    """H = -sum q log q over the last axis (0 log 0 = 0)."""
    return special.entr(distribution).sum(axis=-1)


def _check_votes(total_votes) -> int:
    if isinstance(total_votes, bool) or int(total_votes) != total_votes or total_votes < 0:
        raise ValueError(
            f"Invalid value for total_votes: expected an integer >= 0, received {total_votes!r}"
        )
    return int(total_votes)


def vote_posterior(probabilities: np.ndarray, total_votes: int) -> np.ndarray:
    """Predictive distribution of k: probabilities [items, samples] -> [items, total_votes + 1]."""
    total_votes = _check_votes(total_votes)
    return _binomial_pmf(probabilities, total_votes).mean(axis=-2)


def binomial_mutual_information(probabilities: np.ndarray, total_votes: int) -> np.ndarray:
    """BALD for one answer: probabilities [items, samples] -> MI [items] (nats, >= 0)."""
    total_votes = _check_votes(total_votes)
    per_mask = _binomial_pmf(probabilities, total_votes)  # [items, samples, N+1]
    mutual_information = _entropy(per_mask.mean(axis=-2)) - _entropy(per_mask).mean(axis=-1)
    return np.maximum(mutual_information, 0.0)


def binomial_predictive_entropy(probabilities: np.ndarray, total_votes: int) -> np.ndarray:
    """H[p(k | x)] for one answer: [items, samples] -> [items]."""
    return _entropy(vote_posterior(probabilities, total_votes))


@dataclass(frozen=True)
class _LoneQuestion:
    """A one-question tree, for outcomes.information."""

    key: str
    answers: tuple
    reached_from: tuple = ()


def multinomial_mutual_information(samples: np.ndarray, total_votes: int) -> np.ndarray:
    """BALD for a question with any number of answers: samples [items, answers, samples] -> [items].

    The MI between the vote-count vector k ~ Multinomial(N, p_t) and the dropout mask t, as if
    all N volunteers answered this question alone (the per-question figure shown to staff; the
    acquisition score is the whole tree's, outcomes.information). Exact enumeration where the
    splits of N are few, a stated Monte Carlo estimate otherwise.
    """
    from mlworker.outcomes import information

    total_votes = _check_votes(total_votes)
    samples = np.asarray(samples, dtype=np.float64)
    question = _LoneQuestion("question", tuple(range(samples.shape[1])))
    return information({"question": samples}, (question,), total_votes)["mutual_information"]


def credible_interval(posterior: np.ndarray, mass: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Central credible interval of k: posterior [items, N + 1] -> (low_k [items], high_k [items])."""
    if not 0.0 < mass < 1.0:
        raise ValueError(f"Invalid value for mass: expected 0 < mass < 1, received {mass}")
    cumulative = np.cumsum(posterior, axis=-1)
    tail = (1.0 - mass) / 2.0
    low = np.argmax(cumulative >= tail - 1e-12, axis=-1)
    high = np.argmax(cumulative >= 1.0 - tail - 1e-12, axis=-1)
    return low, high


def reach_share(
    mean_probabilities: dict[str, np.ndarray], questions: Sequence
) -> dict[str, np.ndarray]:
    """Expected share of volunteers reaching each question, from the posterior mean answers.

    mean_probabilities: {question: [items, answers]}; questions: QuestionConfig-like objects with
    `key`, `answers` and `reached_from` ((parent_key, parent_answer_key) edges, empty for roots).
    """
    items = len(next(iter(mean_probabilities.values())))
    by_key = {question.key: question for question in questions}
    share: dict[str, np.ndarray] = {}
    pending = list(questions)
    while pending:
        progressed = False
        for question in list(pending):
            parents = [edge[0] for edge in question.reached_from]
            if any(parent not in share for parent in parents):
                continue
            if not question.reached_from:
                share[question.key] = np.ones(items)
            else:
                share[question.key] = sum(
                    share[parent]
                    * mean_probabilities[parent][:, list(by_key[parent].answers).index(answer)]
                    for parent, answer in question.reached_from
                )
            pending.remove(question)
            progressed = True
        if not progressed:
            raise ValueError(
                f"Invalid question tree: cycle or unknown parent among {[q.key for q in pending]}"
            )
    return share


def question_scores(
    samples_by_question: dict[str, np.ndarray],
    questions: Sequence,
    total_votes: int,
    kind: str = "bald",
) -> dict[str, np.ndarray]:
    """Per question, MI ("bald") or predictive entropy ("entropy") with N = total_votes: {q: [items]}."""
    scores = {}
    for question in questions:
        samples = samples_by_question[question.key]
        if kind == "entropy":
            scores[question.key] = sum(
                binomial_predictive_entropy(samples[:, a, :], total_votes)
                for a in range(samples.shape[1] if samples.shape[1] > 2 else 1)
            )
        else:
            scores[question.key] = multinomial_mutual_information(samples, total_votes)
    return scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first; linear in the pool size (argpartition)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


def power_sample(
    scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0
) -> np.ndarray:
    """Sample k without replacement with probability ∝ score^beta (Gumbel-top-k; Kirsch et al.)."""
    log_weights = beta * np.log(np.maximum(scores, 1e-12))
    return top_k(log_weights + rng.gumbel(size=len(scores)), k)


def diverse_top_k(
    scores: np.ndarray, features: np.ndarray, k: int, candidates_per_pick: int = 10
) -> np.ndarray:
    """Greedy BALD with a diversity penalty in the trunk's feature space.

    From the top k * candidates_per_pick by score, pick repeatedly the candidate maximising
    score * (1 - exp(-d^2 / s^2)), d = distance to the nearest already-picked item and s the
    median distance among candidates: look-alikes of a picked image lose their appeal.
    """
    if features is None or len(features) != len(scores):
        raise ValueError("diverse_bald needs trunk features, one row per scored item")
    pool = top_k(scores, k * candidates_per_pick)
    vectors = np.asarray(features, dtype=np.float64)[pool]
    vectors = (vectors - vectors.mean(axis=0)) / (vectors.std(axis=0) + 1e-6)
    sample = vectors[: min(len(vectors), 200)]
    pairwise = np.sqrt(((sample[:, None, :] - sample[None, :, :]) ** 2).sum(-1))
    scale = np.median(pairwise[pairwise > 0]) if np.any(pairwise > 0) else 1.0
    nearest = np.full(len(pool), np.inf)
    picked: list[int] = []
    for _ in range(min(k, len(pool))):
        penalty = 1.0 - np.exp(-(nearest**2) / scale**2)
        value = scores[pool] * np.where(np.isinf(nearest), 1.0, penalty)
        value[picked] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        distance = np.sqrt(((vectors - vectors[best]) ** 2).sum(-1))
        nearest = np.minimum(nearest, distance)
    return pool[picked]


def select(
    strategy: str,
    scores: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    *,
    features: np.ndarray | None = None,
    beta: float = 1.0,
) -> np.ndarray:
    """Pick `batch_size` indices by strategy name (see STRATEGIES), most wanted first."""
    scores = np.asarray(scores, dtype=np.float64)
    if strategy in ("bald", "entropy"):
        return top_k(scores, batch_size)
    if strategy == "power_bald":
        return power_sample(scores, batch_size, rng, beta)
    if strategy == "diverse_bald":
        return diverse_top_k(scores, features, batch_size)
    if strategy == "random":
        return rng.permutation(len(scores))[:batch_size]
    raise ValueError(f"Unknown acquisition strategy {strategy!r}: expected one of {STRATEGIES}")


def log_vote_likelihood(samples: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """log p(k | x) of observed counts under the MC predictive (mixture over masks).

    samples [items, answers, T], counts int [items, answers] -> [items] (0 where N = 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1)
    log_coefficient = gammaln(total + 1) - gammaln(counts + 1).sum(axis=-1)  # [items]
    log_p = np.log(np.clip(np.asarray(samples, dtype=np.float64), 1e-12, 1.0))
    per_mask = log_coefficient[:, None] + np.einsum("ia,iat->it", counts, log_p)
    return logsumexp(per_mask, axis=-1) - np.log(samples.shape[-1])
