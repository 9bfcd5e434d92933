"""Calibration of a version's MC samples, fitted per version on subjects its training never fitted.

MC dropout's masks agree more than the data warrant on images of kinds the model was not tuned
on: the vote intervals came out 5-8 points too narrow on real pixels (issue 42). Each version
therefore carries a transform of its samples, fitted after training on the validation subjects'
votes (never trained on; early stopping only chose among epochs by them), stored in its config
(`ModelConfig.calibration`) and applied by `scoring.mc_samples` to every sample it returns. So
every consumer reads calibrated samples: the held-out report and the gate against the image-free
baseline, the samples a Prediction stores (the catalogue's best estimate and interval and the
retirement rule's mixture, mlworker/mixture.py, read those), the catalogue's 90% vote intervals
and BALD's mutual information.

The transform, per question q, on sample t's log answer probabilities l_t (shape [answers]):

    l'_t = (c + spread * (l_t - c)) / temperature + noise_q * z_t,   c = mean over t of l_t
    p'_t = softmax(l'_t)

- `spread` > 1 moves the masks apart around their centre (a wider predictive about the same
  centre); it cannot widen masks that agree.
- `temperature` > 1 pulls every sample towards equal answers (and moves the centre).
- `noise_q` (overdispersion): the truth p of an image varies beyond what its pixels tell, so each
  sample becomes a draw of a logistic-normal around it (z_t: fixed standard normal quantiles per
  answer, in an order fixed per question, the same for every item: deterministic, T unchanged).

Each method fits its parameters on a grid by the validation subjects' vote NLL (joint over the
tree, the MC mixture: what the gate judges), with at least MIN_ITEMS validation subjects. The
identity is every parameter at 1 (spread, temperature) or 0 (noise), or no calibration (None, a
version from before). The default (`TrainingSettings.calibration`) is "overdispersion": spread
and temperature were screened beside it and did no better (issue 42's report). The samples a
Prediction stores are the calibrated ones, so everything that reads them follows this version's
calibration without knowing of it.
"""

import zlib
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtri

SPREADS = tuple(float(x) for x in np.round(np.exp(np.linspace(0.0, np.log(4.0), 15)), 4))
TEMPERATURES = tuple(float(x) for x in np.round(np.exp(np.linspace(0.0, np.log(3.0), 12)), 4))
# Noise levels (logit standard deviation) a question's validation votes choose among. Capped at
# 1: in the screen (issue 42's report) a first galaxy model's 18 validation subjects chose 2 for
# a question and lost 0.04 nats on the test set; with the cap no point of any kind lost > 0.004.
NOISES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
# Fewer validation subjects than this: no calibration (one subject's votes would decide it).
MIN_ITEMS = 10
METHODS = ("none", "spread", "temperature", "overdispersion")
LOG_FLOOR = 1e-12


def identity() -> dict:
    return {"spread": 1.0, "temperature": 1.0, "noise": {}}


def apply(probabilities: dict[str, np.ndarray], calibration: dict | None) -> dict[str, np.ndarray]:
    """Calibrated samples: {question: [items, answers, T]} -> the same shapes (float32)."""
    if not calibration:
        return probabilities
    spread = float(calibration.get("spread", 1.0))
    temperature = float(calibration.get("temperature", 1.0))
    noise = calibration.get("noise") or {}
    if spread == 1.0 and temperature == 1.0 and not any(noise.values()):
        return probabilities
    return {
        key: _transformed(value, spread, temperature, float(noise.get(key, 0.0)), key)
        for key, value in probabilities.items()
    }


def quantiles(answers: int, samples: int, question: str) -> np.ndarray:
    """z [answers, samples]: standard normal quantiles at (i + 1/2) / T, in an order fixed per
    question and answer (independent of the samples' order by member and view)."""
    rng = np.random.default_rng([4242, zlib.crc32(question.encode())])
    levels = ndtri((np.arange(samples) + 0.5) / samples)
    return np.stack([rng.permutation(levels) for _ in range(answers)])


def _transformed(
    samples: np.ndarray, spread: float, temperature: float, noise: float, question: str
) -> np.ndarray:
    logs = np.log(np.clip(samples.astype(np.float64), LOG_FLOOR, 1.0))
    centre = logs.mean(axis=-1, keepdims=True)
    logs = (centre + spread * (logs - centre)) / temperature
    if noise:
        logs = logs + noise * quantiles(samples.shape[1], samples.shape[2], question)
    logs -= logs.max(axis=1, keepdims=True)
    weights = np.exp(logs)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def candidates(method: str, questions: Sequence) -> list[dict]:
    """A method's grid of calibrations (the identity first)."""
    if method == "spread":
        return [{**identity(), "spread": s} for s in SPREADS]
    if method == "temperature":
        return [{**identity(), "temperature": t} for t in TEMPERATURES]
    return [{**identity(), "noise": {q.key: n for q in questions}} for n in NOISES]


def fit(
    probabilities: dict[str, np.ndarray],
    counts: dict[str, np.ndarray],
    questions: Sequence,
    method: str = "overdispersion",
    evidence: float = 0.0,
) -> dict:
    """The calibration of a version from its uncalibrated samples of subjects it was not trained
    on ({question: [items, answers, T]}) and their votes ({question: [items, answers]}).

    Returns {"spread", "temperature", "noise", "method", "items", "nll_before", "nll_after"};
    the identity with method "none" or fewer than MIN_ITEMS subjects with votes. Overdispersion
    is fitted one question at a time in the tree's order, each given the levels chosen before.
    A candidate replaces the current choice when it lowers the mean NLL by more than `evidence`
    standard errors of the paired per-subject difference (0: when it lowers it at all).
    """
    from mlworker import outcomes

    if method not in METHODS:
        raise ValueError(
            f"Invalid calibration method: expected one of {METHODS}, received {method!r}"
        )
    voted = np.zeros(len(next(iter(probabilities.values()), [])), dtype=bool)
    for value in counts.values():
        voted |= np.asarray(value).sum(axis=-1) > 0
    chosen = {**identity(), "method": method, "items": int(voted.sum())}
    if method == "none" or voted.sum() < MIN_ITEMS:
        return {**chosen, "method": "none"}
    samples = {key: value[voted] for key, value in probabilities.items()}
    held = {key: np.asarray(value)[voted] for key, value in counts.items()}

    def nll(candidate: dict) -> np.ndarray:
        calibrated = apply(samples, candidate)
        return -outcomes.observed_log_likelihood(calibrated, held, questions)

    def clearly_better(candidate: dict, current: dict) -> bool:
        difference = nll(candidate) - nll(current)
        if evidence <= 0:
            return difference.mean() < 0
        spread = difference.std(ddof=1) / np.sqrt(len(difference))
        return difference.mean() < -evidence * spread

    best = identity()
    if method == "overdispersion":
        for question in questions:
            trials = [{**best, "noise": {**best["noise"], question.key: level}} for level in NOISES]
            trial = min(trials, key=lambda candidate: nll(candidate).mean())
            best = trial if clearly_better(trial, best) else best
    else:
        trial = min(candidates(method, questions), key=lambda candidate: nll(candidate).mean())
        best = trial if clearly_better(trial, best) else best
    return {
        **chosen,
        **best,
        "nll_before": round(float(nll(identity()).mean()), 5),
        "nll_after": round(float(nll(best).mean()), 5),
    }
