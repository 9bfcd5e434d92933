import numpy as np
import pytest


@pytest.fixture(scope="session")
def galaxy_questions():
    from mlworker.model import QuestionConfig

    return (
        QuestionConfig("smooth-or-featured", ("smooth", "featured")),
        QuestionConfig("edge-on", ("yes", "no"), (("smooth-or-featured", "featured"),)),
        QuestionConfig("bar", ("bar", "no-bar"), (("edge-on", "no"),)),
    )


@pytest.fixture(scope="session")
def tiny_galaxies():
    """300 synthetic 24 px galaxies with 15 simulated votes each, counts keyed by question."""
    from mlworker import synthetic

    galaxies = synthetic.make_galaxies(300, size=24, seed=1)
    counts = synthetic.simulate_vote_counts(galaxies.p, 15, np.random.default_rng(1))
    by_question = {key: counts[:, i, :] for i, key in enumerate(synthetic.QUESTION_KEYS)}
    return galaxies.images, by_question
