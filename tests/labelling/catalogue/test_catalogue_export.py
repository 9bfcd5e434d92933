"""The catalogue export's best-estimate columns on PostgreSQL: which samples, which votes, which
prior each subject gets (labelling/catalogue/catalogue_estimates.py)."""

import csv
import io
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from labelling.catalogue import exports
from labelling.catalogue.estimate import best_estimate
from labelling.core.selectors import project_tree
from labelling.models import ModelVersion, Prediction, Subject, VolunteerReliability
from labelling.volunteer import accounts
from mlworker import baseline
from tests.conftest import submit_votes

pytestmark = pytest.mark.django_db

ESTIMATE_COLUMNS = ("estimate", "estimate_low90", "estimate_high90")
SMOOTH_SAMPLES = [[0.9, 0.1], [0.8, 0.2], [0.95, 0.05], [0.85, 0.15]]
BAR_SAMPLES = [[0.3, 0.7], [0.2, 0.8], [0.4, 0.6], [0.25, 0.75]]


def volunteers(count: int, prefix: str) -> list:
    return [accounts.volunteer_get_or_create(session_key=f"{prefix}-{n}") for n in range(count)]


def weigh(project, volunteer, weight: float) -> None:
    VolunteerReliability.objects.create(
        project=project,
        volunteer=volunteer,
        weight=weight,
        kind="honest",
        answers=1,
        classifications=1,
        computed_at=timezone.now(),
    )


def predict(version, subject, samples: dict | None = None, means=(0.7, 0.4)) -> None:
    """A Prediction as a round writes it; without samples, as one written before they were kept."""
    smooth, bar = means
    Prediction.objects.create(
        model_version=version,
        subject=subject,
        score=0.1,
        per_question={
            "smooth-or-featured": {
                "answers": {"smooth": {"mean": smooth}, "featured": {"mean": 1 - smooth}}
            },
            "bar": {"answers": {"bar": {"mean": bar}, "no-bar": {"mean": 1 - bar}}},
        },
        samples=samples or {},
    )


def catalogue(project) -> dict[tuple[int, str], dict]:
    rows = csv.DictReader(io.StringIO("".join(exports.catalogue_csv(project=project))))
    return {(int(row["subject_id"]), row["question"]): row for row in rows}


def columns(row: dict, answers: tuple[str, ...]) -> np.ndarray:
    """[3 (estimate, low, high), answers] read from a catalogue row."""
    return np.array([[float(row[f"{a}:{c}"]) for a in answers] for c in ESTIMATE_COLUMNS])


def expected(estimate) -> np.ndarray:
    return np.array([estimate.mean, estimate.low, estimate.high])


def test_every_subject_gets_the_estimate_of_its_latest_good_samples_and_weighted_votes(project):
    retired, unvoted, imported_late, old_prediction, _ = project.subjects.order_by("pk")
    careful, careless = volunteers(3, "careful"), volunteers(2, "careless")
    for volunteer in careful:
        weigh(project, volunteer, 1.0)
    for volunteer in careless:
        weigh(project, volunteer, 0.25)
    featured_bar = {"smooth-or-featured": "featured", "bar": "bar"}
    submit_votes(project, retired, careful, featured_bar, "retired")
    submit_votes(project, retired, careless, {"smooth-or-featured": "smooth"}, "retired-careless")
    submit_votes(project, imported_late, careful[:2], featured_bar, "late")
    Subject.objects.filter(pk=retired.pk).update(status="retired", retirement_reason="model")
    first = ModelVersion.objects.create(project=project, number=1, status="ready")
    predict(first, retired, {"smooth-or-featured": SMOOTH_SAMPLES, "bar": BAR_SAMPLES})
    predict(first, unvoted, {"smooth-or-featured": SMOOTH_SAMPLES, "bar": BAR_SAMPLES})
    stored_alpha = {"smooth-or-featured": [2.0, 1.0], "bar": [0.5, 1.5]}
    second = ModelVersion.objects.create(
        project=project, number=2, status="ready", metrics={"_baseline": stored_alpha}
    )
    later = [[0.1, 0.9], [0.2, 0.8]]
    predict(second, unvoted, {"smooth-or-featured": later, "bar": later})  # scores the unretired
    predict(second, old_prediction, means=(0.7, 0.4))
    worse = ModelVersion.objects.create(project=project, number=3, status="ready")
    worse.worse_than_baseline = True
    worse.save()
    predict(worse, unvoted, {"smooth-or-featured": [[0.5, 0.5]], "bar": [[0.5, 0.5]]})

    rows = catalogue(project)
    questions = project_tree(project=project).head_questions()
    shape, bar = ("smooth", "featured"), ("bar", "no-bar")

    # Retired, voted: version 1's samples (version 2 did not score it), votes weighted 1 and 0.25.
    row = rows[(retired.pk, "smooth-or-featured")]
    assert (row["status"], row["model_version"], row["smooth:votes"]) == ("retired", "1", "2")
    weighted = {"smooth-or-featured": np.array([0.5, 3.0]), "bar": np.array([3.0, 0.0])}
    first_samples = {
        "smooth-or-featured": np.array(SMOOTH_SAMPLES),
        "bar": np.array(BAR_SAMPLES),
    }
    want = best_estimate(weighted, questions, samples=first_samples)
    np.testing.assert_allclose(columns(row, shape), expected(want["smooth-or-featured"]), atol=1e-6)
    np.testing.assert_allclose(
        columns(rows[(retired.pk, "bar")], bar), expected(want["bar"]), atol=1e-6
    )
    # Three featured votes against a model sure of "smooth": the estimate follows the votes.
    assert float(row["featured:estimate"]) > 0.5 > float(row["featured:mean"] or 0.15)

    # Unvoted: the latest good version's samples alone (version 3 is worse than the baseline).
    row = rows[(unvoted.pk, "smooth-or-featured")]
    assert row["model_version"] == "2" and row["N"] == "0"
    alone = best_estimate(
        {}, questions, samples={key: np.array(later) for key in ("smooth-or-featured", "bar")}
    )
    np.testing.assert_allclose(
        columns(row, shape), expected(alone["smooth-or-featured"]), atol=1e-6
    )

    # No good version scored it: the stored baseline's Dirichlet, updated by the weighted votes.
    row = rows[(imported_late.pk, "bar")]
    assert row["model_version"] == ""
    assert float(row["bar:estimate"]) == pytest.approx((0.5 + 2.0) / 4.0, abs=1e-6)
    assert float(row["bar:estimate_low90"]) < 0.625 < float(row["bar:estimate_high90"])

    # A prediction stored without samples: its means as one sample, beside the vague component.
    row = rows[(old_prediction.pk, "smooth-or-featured")]
    assert float(row["smooth:estimate"]) == pytest.approx(0.9 * 0.7 + 0.1 * 0.5, abs=1e-6)


def test_before_any_model_every_subject_gets_the_baseline_fitted_on_the_weighted_votes(project):
    subjects = list(project.subjects.order_by("pk"))
    crowd = volunteers(4, "crowd")
    for number, subject in enumerate(subjects[:3]):
        answers = {"smooth-or-featured": "featured", "bar": "bar" if number else "no-bar"}
        submit_votes(project, subject, crowd[: number + 2], answers, f"s{number}")
    Subject.objects.filter(pk=subjects[0].pk).update(status="retired", retirement_reason="limit")
    rows = catalogue(project)
    # Nobody weighed yet: each vote counts the prior weight, 0.9.
    weighted = np.array([[0.0, 1.8], [0.0, 2.7], [0.0, 3.6]])
    alpha = baseline.fit({"smooth-or-featured": weighted})["smooth-or-featured"]
    unvoted = rows[(subjects[4].pk, "smooth-or-featured")]
    assert unvoted["model_version"] == "" and unvoted["N"] == "0"
    assert float(unvoted["featured:estimate"]) == pytest.approx(alpha[1] / alpha.sum(), abs=1e-6)
    retired = rows[(subjects[0].pk, "smooth-or-featured")]
    assert retired["status"] == "retired"
    assert float(retired["featured:estimate"]) == pytest.approx(
        (alpha[1] + 1.8) / (alpha.sum() + 1.8), abs=1e-6
    )
    assert float(retired["featured:estimate_high90"]) > float(retired["featured:estimate"])


def test_the_export_command_writes_the_estimate_columns(project, tmp_path):
    call_command("export_catalogue", project.slug, str(tmp_path / "c.csv"), stdout=StringIO())
    header = (tmp_path / "c.csv").read_text().splitlines()[0].split(",")
    for answer in ("smooth", "featured", "bar", "no-bar"):
        assert [f"{answer}:{column}" for column in ESTIMATE_COLUMNS] == [
            name for name in header if name.startswith(f"{answer}:estimate")
        ]
