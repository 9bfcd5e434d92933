"""A model version's catalogue rows: what a Prediction stores for each scored subject."""

import numpy as np

from mlworker import acquisition


def prediction_rows(scored, questions, retirement_limit: int) -> list[dict]:
    """Per item: per question mean vote fraction, 90% interval of k/N, MI; the samples; the score.

    The score is what the project's strategy ranks by (the joint MI of the tree's vote outcome, or
    its predictive entropy); per question, the MI of that question alone is shown beside it.
    """
    samples, scores = scored.samples, scored.scores
    mean = {key: value.mean(axis=-1) for key, value in samples.items()}
    share = acquisition.reach_share(mean, questions)
    mutual_information = acquisition.question_scores(samples, questions, retirement_limit, "bald")
    intervals = {}
    for question in questions:
        expected = np.maximum(1, np.rint(retirement_limit * share[question.key])).astype(int)
        low = np.zeros((len(expected), len(question.answers)))
        high = np.zeros_like(low)
        for votes in np.unique(expected):
            rows = expected == votes
            for answer in range(len(question.answers)):
                posterior = acquisition.vote_posterior(
                    samples[question.key][rows, answer, :], int(votes)
                )
                low_k, high_k = acquisition.credible_interval(posterior, 0.9)
                low[rows, answer], high[rows, answer] = low_k / votes, high_k / votes
        intervals[question.key] = (low, high)
    output = []
    for item in range(len(scores)):
        per_question = {}
        for question in questions:
            low, high = intervals[question.key]
            per_question[question.key] = {
                "mutual_information": round(float(mutual_information[question.key][item]), 6),
                "expected_votes": round(float(retirement_limit * share[question.key][item]), 3),
                "answers": {
                    answer: {
                        "mean": round(float(mean[question.key][item, a]), 4),
                        "low": round(float(low[item, a]), 4),
                        "high": round(float(high[item, a]), 4),
                    }
                    for a, answer in enumerate(question.answers)
                },
            }
        output.append(
            {
                "per_question": per_question,
                "samples": {key: np.round(samples[key][item].T, 5).tolist() for key in samples},
                "score": float(scores[item]),
            }
        )
    return output
