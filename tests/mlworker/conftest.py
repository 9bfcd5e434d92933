import numpy as np
import pytest


@pytest.fixture(scope="session")
def galaxy_questions():
    from mlworker import questions, synthetic

    return questions.from_dicts(synthetic.GALAXY_QUESTIONS)


@pytest.fixture(scope="session")
def tiny_galaxies():
    """300 synthetic 24 px galaxies with 15 simulated votes each, counts keyed by question."""
    from mlworker import synthetic

    galaxies = synthetic.make_galaxies(300, size=24, seed=1)
    counts = synthetic.simulate_vote_counts(galaxies.p, 15, np.random.default_rng(1))
    by_question = {key: counts[:, i, :] for i, key in enumerate(synthetic.QUESTION_KEYS)}
    return galaxies.images, by_question
