"""How far each volunteer's votes can be trusted, from the votes themselves (NumPy, no Django).

Every volunteer is one of three kinds, and their votes are the evidence for which:

- **honest**: each vote is a draw from the subject's answer probabilities, estimated for that vote
  from everyone else's (weighted) votes on the subject and the model's posterior mean as a prior
  worth `prior_strength` votes — leave-one-out, so a volunteer never agrees with themselves;
- **careless**: their answers to a question do not depend on the subject — one button always, or at
  random — drawn from their own answer shares (a Dirichlet-multinomial with a flat prior, so fitting
  those shares costs evidence, as an extra parameter should);
- **hostile**: each vote is the opposite of the others' — answer a with probability
  (1 - p_a) / (A - 1).

A volunteer's weight is the posterior probability of "honest" given all their votes on every
question, from a prior (`KIND_PRIOR`): a new volunteer starts trusted but light (0.9), and it takes
consistent evidence over many votes to move far either way. Weights and the subjects' estimates
depend on each other, so they are refined together for a few rounds (weighted leave-one-out
estimates, then weights). Sessions sharing an address (`groups`) are also judged together: a group
judged unreliable as a whole gives its weight to every member, so many sessions of a few votes each
cannot hide behind their small numbers.

Votes arrive as flat arrays, one entry per (volunteer, subject, question) answer given.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp

KINDS = ("honest", "careless", "hostile")
KIND_PRIOR = np.array([0.9, 0.07, 0.03])
FLAG_BELOW = 0.5  # a weight below this flags the volunteer for staff
PROBABILITY_FLOOR = 0.01  # keeps every answer possible under the prior (no log 0 from a model)


@dataclass(frozen=True)
class Votes:
    """One entry per answer given: who, to which subject, which question, which answer (indices)."""

    volunteer: np.ndarray
    subject: np.ndarray
    question: np.ndarray
    answer: np.ndarray
    answers_per_question: tuple[int, ...]
    volunteers: int
    subjects: int

    @classmethod
    def from_lists(cls, volunteer, subject, question, answer, *, answers_per_question, volunteers,
                   subjects) -> "Votes":  # fmt: skip
        arrays = [
            np.asarray(values, dtype=np.int64) for values in (volunteer, subject, question, answer)
        ]
        lengths = {len(values) for values in arrays}
        if len(lengths) != 1:
            raise ValueError(
                f"Invalid votes: expected arrays of one length, received {sorted(lengths)}"
            )
        volunteer, subject, question, answer = arrays
        widths = np.asarray(answers_per_question, dtype=np.int64)
        for name, values, size in (
            ("volunteer", volunteer, volunteers),
            ("subject", subject, subjects),
            ("question", question, len(widths)),
        ):
            if len(values) and (values.min() < 0 or values.max() >= size):
                raise ValueError(f"Invalid votes: a {name} index outside 0..{size - 1}")
        if len(answer) and (np.any(answer < 0) or np.any(answer >= widths[question])):
            raise ValueError("Invalid votes: an answer index outside its question's answers")
        return cls(volunteer, subject, question, answer, tuple(int(w) for w in widths),
                   int(volunteers), int(subjects))  # fmt: skip


@dataclass(frozen=True)
class Reliability:
    weight: np.ndarray  # [volunteers] P(honest | votes), the weight of each of their votes
    posterior: np.ndarray  # [volunteers, 3] over KINDS
    votes: np.ndarray  # [volunteers] answers given
    agreement: np.ndarray  # [volunteers, questions] mean share of the others agreeing; NaN: none
    group_weight: np.ndarray  # [volunteers] the weight of their address's sessions together

    @property
    def flagged(self) -> np.ndarray:
        """Judged unreliable on their own evidence (or their address's): an exclusion by staff
        sets the weight to 0 but is not a judgement."""
        return np.minimum(self.posterior[:, 0], self.group_weight) < FLAG_BELOW

    def kind(self) -> list[str]:
        return [KINDS[index] for index in self.posterior.argmax(axis=1)]


def weighted_counts(votes: Votes, weight: np.ndarray | None = None) -> list[np.ndarray]:
    """Per question, [subjects, answers] sums of the voters' weights (1 each without weights)."""
    per_vote = (
        np.ones(len(votes.volunteer)) if weight is None else np.asarray(weight)[votes.volunteer]
    )
    counts = []
    for question, width in enumerate(votes.answers_per_question):
        rows = votes.question == question
        table = np.zeros((votes.subjects, width))
        np.add.at(table, (votes.subject[rows], votes.answer[rows]), per_vote[rows])
        counts.append(table)
    return counts


def estimate(
    votes: Votes,
    *,
    prior: list[np.ndarray] | None = None,
    prior_strength: float = 2.0,
    groups: np.ndarray | None = None,
    excluded: np.ndarray | None = None,
    rounds: int = 4,
) -> Reliability:
    """Each volunteer's weight and kind. prior: per question [subjects, answers], the model's
    posterior mean answer probabilities (None, or a row of NaN: that subject gets the crowd's
    answer shares); groups: [volunteers] an address id per volunteer (-1 or None: judged alone);
    excluded: [volunteers] bool, staff's exclusions — their weight is 0 and their votes do not
    inform anyone else's, though their own evidence is still weighed."""
    excluded = np.zeros(votes.volunteers, bool) if excluded is None else np.asarray(excluded, bool)
    weight = np.where(excluded, 0.0, KIND_PRIOR[0])
    group_weight = weight.copy()
    for _ in range(rounds):
        evidence, agreement = _evidence(votes, weight, prior, prior_strength)
        posterior = _posterior(evidence)
        group_weight = _group_weight(evidence, groups, posterior[:, 0])
        weight = np.where(excluded, 0.0, np.minimum(posterior[:, 0], group_weight))
    return Reliability(
        weight=weight,
        posterior=posterior,
        votes=np.bincount(votes.volunteer, minlength=votes.volunteers),
        agreement=agreement,
        group_weight=group_weight,
    )


def _posterior(evidence: np.ndarray) -> np.ndarray:
    log_posterior = np.log(KIND_PRIOR) + evidence
    return np.exp(log_posterior - logsumexp(log_posterior, axis=1, keepdims=True))


def _group_weight(evidence: np.ndarray, groups, alone: np.ndarray) -> np.ndarray:
    """Each volunteer's address judged as one voter (its sessions' evidence added up)."""
    if groups is None:
        return alone.copy()
    groups = np.asarray(groups)
    result = alone.copy()
    for group in np.unique(groups[groups >= 0]):
        members = np.flatnonzero(groups == group)
        if len(members) > 1:
            result[members] = _posterior(evidence[members].sum(axis=0, keepdims=True))[0, 0]
    return result


def _evidence(votes: Votes, weight: np.ndarray, prior, prior_strength: float):
    """[volunteers, 3] log-likelihood of each volunteer's votes under each kind, and
    [volunteers, questions] their agreement with the others."""
    evidence = np.zeros((votes.volunteers, len(KINDS)))
    agreement = np.full((votes.volunteers, len(votes.answers_per_question)), np.nan)
    totals = weighted_counts(votes, weight)
    for question, width in enumerate(votes.answers_per_question):
        rows = np.flatnonzero(votes.question == question)
        if len(rows) == 0:
            continue
        who, subject, answer = votes.volunteer[rows], votes.subject[rows], votes.answer[rows]
        # Everyone else's weighted votes on the subject: a volunteer's own (all of them, should
        # they have answered twice) taken out.
        pair = who * votes.subjects + subject
        pairs, inverse = np.unique(pair, return_inverse=True)
        own_table = np.zeros((len(pairs), width))
        np.add.at(own_table, (inverse, answer), weight[who])
        own = own_table[inverse]
        others = totals[question][subject] - own
        expected = _prior_mean(prior, question, totals[question], width)[subject]
        shares = (prior_strength * expected + others) / (prior_strength + others.sum(axis=1))[
            :, None
        ]
        chosen = shares[np.arange(len(rows)), answer]
        evidence[:, 0] += np.bincount(who, np.log(chosen), minlength=votes.volunteers)
        opposite = (1.0 - chosen) / (width - 1)
        evidence[:, 2] += np.bincount(who, np.log(opposite), minlength=votes.volunteers)
        # Careless: their own answer shares, whatever the subject (flat Dirichlet prior).
        counts = np.zeros((votes.volunteers, width))
        np.add.at(counts, (who, answer), 1.0)
        total = counts.sum(axis=1)
        evidence[:, 1] += (
            gammaln(width) - gammaln(width + total) + gammaln(1.0 + counts).sum(axis=1)
        )
        # Agreement: the share of the others' weighted votes on the subject that match (subjects
        # nobody else answered left out), averaged over the volunteer's votes.
        other_total = others.sum(axis=1)
        seen = other_total > 0
        matched = np.bincount(
            who[seen], others[seen, answer[seen]] / other_total[seen], minlength=votes.volunteers
        )
        answered = np.bincount(who[seen], minlength=votes.volunteers)
        with np.errstate(invalid="ignore", divide="ignore"):
            agreement[:, question] = np.where(answered > 0, matched / answered, np.nan)
    return evidence, agreement


def _prior_mean(prior, question: int, totals: np.ndarray, width: int) -> np.ndarray:
    """[subjects, answers]: the model's posterior mean where there is one, else the crowd's answer
    shares, floored."""
    overall = totals.sum(axis=0) + 1.0
    mean = np.broadcast_to(overall / overall.sum(), totals.shape)
    if prior is not None:
        model = np.asarray(prior[question], dtype=np.float64)
        mean = np.where(np.isnan(model).any(axis=1, keepdims=True), mean, model)
    mean = (1 - PROBABILITY_FLOOR * width) * mean + PROBABILITY_FLOOR
    return mean / mean.sum(axis=1, keepdims=True)
