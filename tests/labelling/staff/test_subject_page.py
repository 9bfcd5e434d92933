"""The staff subject page shows the catalogue's best estimate beside the votes."""

import html
import re

import numpy as np
import pytest
from django.test import Client

from labelling.catalogue.estimate import best_estimate
from labelling.core.selectors import project_tree
from labelling.models import ModelVersion, Prediction, VolunteerExclusion
from labelling.volunteer import accounts
from tests.conftest import submit_votes

pytestmark = pytest.mark.django_db

SAMPLES = {
    "smooth-or-featured": [[0.9, 0.1], [0.8, 0.2], [0.95, 0.05]],
    "bar": [[0.3, 0.7], [0.2, 0.8], [0.4, 0.6]],
}


def estimate_rows(page: str, question: str) -> list[tuple[str, float, float, float, float]]:
    """(answer, weighted votes, estimate, low, high) per row of the question's estimate table."""
    table = re.search(rf'<table id="estimate-{question}".*?</table>', page, re.S)[0]
    rows = re.findall(
        r"<tr><td>([^<]*)</td><td>([\d.]+)</td><td><strong>([\d.]+)</strong> \[([\d.]+), ([\d.]+)\]",
        table,
    )
    return [(html.unescape(text), *map(float, numbers)) for text, *numbers in rows]


def test_the_subject_page_shows_each_answers_estimate_and_interval_beside_the_votes(project, staff):
    subject = project.subjects.order_by("pk").first()
    crowd = [accounts.volunteer_get_or_create(session_key=f"crowd-{n}") for n in range(3)]
    submit_votes(project, subject, crowd, {"smooth-or-featured": "featured", "bar": "bar"}, "v")
    VolunteerExclusion.objects.create(project=project, volunteer=crowd[0], reason="test")
    version = ModelVersion.objects.create(project=project, number=4, status="ready")
    Prediction.objects.create(
        model_version=version, subject=subject, score=0.1, per_question={}, samples=SAMPLES
    )
    client = Client()
    client.force_login(staff)
    page = client.get(f"/staff/projects/{project.slug}/subjects/{subject.pk}/").content.decode()

    # The excluded volunteer's vote counts 0, the two others the prior weight, 0.9 each.
    weighted = {"smooth-or-featured": np.array([0.0, 1.8]), "bar": np.array([1.8, 0.0])}
    questions = project_tree(project=project).head_questions()
    samples = {key: np.array(value) for key, value in SAMPLES.items()}
    want = best_estimate(weighted, questions, samples=samples)["smooth-or-featured"]
    assert "model v4 and the weighted votes" in page
    rows = estimate_rows(page, "smooth-or-featured")
    assert [row[0] for row in rows] == ["Smooth", "Featured or disk"]
    assert [row[1] for row in rows] == [0.0, 1.8]
    for (_, _, mean, low, high), a in zip(rows, range(2), strict=True):
        assert (mean, low, high) == pytest.approx(
            (want.mean[a], want.low[a], want.high[a]), abs=6e-4
        )
    assert len(estimate_rows(page, "bar")) == 2


def test_without_a_model_the_page_says_the_estimate_is_the_baselines(project, staff):
    subject = project.subjects.order_by("pk").first()
    client = Client()
    client.force_login(staff)
    page = client.get(f"/staff/projects/{project.slug}/subjects/{subject.pk}/").content.decode()
    assert "the image-free baseline and the weighted votes" in page
    # No votes anywhere: the baseline is a flat Dirichlet, each answer's estimate one half.
    assert [row[2] for row in estimate_rows(page, "bar")] == [0.5, 0.5]
