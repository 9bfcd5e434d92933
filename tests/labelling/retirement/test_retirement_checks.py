"""Model-aware retirement against the real database, Redis queue and API (issue 14)."""

import uuid

import numpy as np
import pytest
import redis
from django.test import Client

from labelling.core import projects
from labelling.loop import rounds
from labelling.models import (
    Classification,
    ModelVersion,
    Prediction,
    Project,
    RetirementReason,
    RetirementRule,
    Subject,
    SubjectStatus,
)
from labelling.queue import redis_queue
from labelling.retirement import rule as retirement
from labelling.retirement.checks import rule_for, subjects_retire_settled
from labelling.retirement.tasks import check_retirements
from labelling.volunteer import accounts
from tests.conftest import submit_votes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving_state")]
SMOOTH = {"smooth-or-featured": "smooth"}


def sure_samples(smooth: float = 0.99, bar: float = 0.5, masks: int = 20) -> dict:
    """Prediction.samples as the worker stores them: {question: [[p per answer] per mask]}."""
    spread = np.linspace(-0.005, 0.005, masks)
    return {
        "smooth-or-featured": [[smooth + s, 1 - smooth - s] for s in spread],
        "bar": [[bar + 20 * s, 1 - bar - 20 * s] for s in spread],
    }


def version_with_samples(project, number=1, worse_than_baseline=False, **sample_settings):
    version = ModelVersion.objects.create(
        project=project, number=number, status="ready", worse_than_baseline=worse_than_baseline
    )
    for subject in project.subjects.all():
        Prediction.objects.create(
            model_version=version,
            subject=subject,
            score=0.0,
            per_question={},
            samples=sure_samples(**sample_settings),
        )
    return version


def vote(project, subject, times, answers=SMOOTH, prefix="volunteer"):
    volunteers = [
        accounts.volunteer_get_or_create(session_key=f"{prefix}-{uuid.uuid4().hex}")
        for _ in range(times)
    ]
    submit_votes(project, subject, volunteers, answers, key_prefix="k")


@pytest.fixture
def model_aware(make_project):
    return make_project(slug="aware", subjects=4, retirement_rule=RetirementRule.MODEL_AWARE)


def test_a_subject_the_model_and_votes_settle_retires_with_reason_version_and_forecast(
    model_aware,
):
    version = version_with_samples(model_aware)
    subject = model_aware.subjects.order_by("pk").first()
    vote(model_aware, subject, 3)
    check = subjects_retire_settled(project=model_aware)
    subject.refresh_from_db()
    assert check.retired == [subject.pk] and check.version == 1
    assert subject.status == SubjectStatus.RETIRED and subject.retired_at is not None
    assert subject.retirement_reason == RetirementReason.MODEL
    assert subject.retired_by_version == version
    forecast = subject.retirement_forecast["smooth-or-featured"]
    assert forecast["votes"] == 3 and forecast["remaining"] == 12
    assert forecast["answers"]["smooth"]["low"] > 0.85
    vote(model_aware, subject, 1, prefix="late")  # a vote after retirement is kept and marked
    assert Classification.objects.filter(subject=subject, after_retirement=True).count() == 1


def test_below_the_project_minimum_of_votes_nothing_retires(make_project):
    project = make_project(
        slug="minimum",
        subjects=2,
        retirement_rule=RetirementRule.MODEL_AWARE,
        retirement_minimum_votes=4,
    )
    version_with_samples(project)
    subject = project.subjects.first()
    vote(project, subject, 3)
    assert subjects_retire_settled(project=project).retired == []
    vote(project, subject, 1, prefix="fourth")
    assert subjects_retire_settled(project=project).retired == [subject.pk]


def test_votes_against_the_model_keep_the_subject_until_the_limit_retires_it(make_project):
    project = make_project(slug="limit", subjects=2, retirement_rule=RetirementRule.MODEL_AWARE)
    version_with_samples(project, smooth=0.99)
    subject = project.subjects.first()
    featured = {"smooth-or-featured": "featured", "bar": "bar"}
    vote(project, subject, 2)
    vote(project, subject, 2, answers=featured, prefix="featured")
    assert subjects_retire_settled(project=project).retired == []
    vote(project, subject, 11, answers=featured, prefix="more")  # the 15th vote retires it
    subject.refresh_from_db()
    assert subject.status == SubjectStatus.RETIRED
    assert subject.retirement_reason == RetirementReason.LIMIT
    assert subject.retired_by_version is None


def test_a_version_worse_than_the_baseline_never_retires_anything(model_aware):
    version_with_samples(model_aware, worse_than_baseline=True)
    subject = model_aware.subjects.first()
    vote(model_aware, subject, 5)
    assert subjects_retire_settled(project=model_aware).retired == []
    assert Subject.objects.get(pk=subject.pk).status == SubjectStatus.ACTIVE


def test_the_latest_good_version_decides_when_a_newer_one_is_flagged(model_aware):
    good = version_with_samples(model_aware, number=1)
    version_with_samples(model_aware, number=2, worse_than_baseline=True, smooth=0.5)
    subject = model_aware.subjects.first()
    vote(model_aware, subject, 3)
    assert subjects_retire_settled(project=model_aware).retired == [subject.pk]
    assert Subject.objects.get(pk=subject.pk).retired_by_version == good


def test_an_unreached_question_does_not_hold_back_but_an_unsettled_one_does(model_aware):
    version_with_samples(model_aware, smooth=0.99, bar=0.5)
    smooth, featured = model_aware.subjects.order_by("pk")[:2]
    vote(model_aware, smooth, 3)  # nobody reaches "bar", nor is expected to
    Prediction.objects.filter(subject=featured).update(samples=sure_samples(smooth=0.01, bar=0.5))
    vote(model_aware, featured, 4, answers={"smooth-or-featured": "featured", "bar": "bar"})
    assert subjects_retire_settled(project=model_aware).retired == [smooth.pk]


def test_only_subjects_with_new_votes_are_checked_until_a_round_asks_for_all(model_aware):
    version_with_samples(model_aware, smooth=0.5)
    subjects = list(model_aware.subjects.order_by("pk")[:2])
    for subject in subjects:
        vote(model_aware, subject, 3)
    assert subjects_retire_settled(project=model_aware).checked == 2
    assert subjects_retire_settled(project=model_aware).checked == 0
    vote(model_aware, subjects[0], 1, prefix="new")
    assert subjects_retire_settled(project=model_aware).checked == 1
    version_with_samples(model_aware, number=2, smooth=0.99)  # a new round's samples
    check = subjects_retire_settled(project=model_aware, recheck_all=True)
    assert check.checked == 2 and sorted(check.retired) == [s.pk for s in subjects]


def test_a_round_queues_a_check_of_every_subject(model_aware, django_capture_on_commit_callbacks):
    from starling.celery import app

    version = version_with_samples(model_aware)
    version.task_id = "round-task"
    version.save()
    subject = model_aware.subjects.first()
    vote(model_aware, subject, 3)
    Subject.objects.filter(pk=subject.pk).update(retirement_checked_votes=3)  # seen by a tick
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            rounds.round_record(version=version, picks=[], scores={})
    finally:
        app.conf.task_always_eager = False
    assert Subject.objects.get(pk=subject.pk).retirement_reason == RetirementReason.MODEL


def test_the_task_checks_only_model_aware_projects(model_aware, make_project):
    fixed = make_project(slug="fixed", subjects=2)
    for project in (model_aware, fixed):
        version_with_samples(project)
        vote(project, project.subjects.first(), 3)
    assert check_retirements() == {model_aware.pk: 1}
    assert fixed.subjects.filter(status=SubjectStatus.RETIRED).count() == 0


def test_a_project_switched_back_to_fixed_count_behaves_exactly_as_before(make_project):
    switched = make_project(slug="switched", subjects=3, retirement_rule=RetirementRule.MODEL_AWARE)
    never = make_project(slug="never", subjects=3)
    projects.project_update(project=switched, retirement_rule=RetirementRule.FIXED_COUNT)
    states = []
    for project in (switched, never):
        version_with_samples(project)
        first, second, _ = project.subjects.order_by("pk")
        vote(project, first, 3)
        check_retirements()
        vote(project, second, 15)
        states.append(
            [
                (s.status, s.retirement_reason, s.retired_by_version_id, s.classification_count)
                for s in project.subjects.order_by("pk")
            ]
        )
    assert (
        states[0]
        == states[1]
        == [
            ("active", "", None, 3),
            ("retired", "limit", None, 15),
            ("active", "", None, 0),
        ]
    )


def test_a_retired_subject_leaves_the_queue_and_is_no_longer_served(
    model_aware, django_capture_on_commit_callbacks
):
    version_with_samples(model_aware)
    client = Client()
    ids = lambda: {s["id"] for s in client.get(*next_url(model_aware)).json()["subjects"]}  # noqa: E731
    assert len(ids()) == 4
    serving_version = Project.objects.get(pk=model_aware.pk).serving_version
    queue = f"starling:queue:{model_aware.pk}:{serving_version}"
    store = redis.Redis.from_url(redis_queue.queue_redis_url())
    assert store.zcard(queue) == 4  # served from Redis, not SQL
    subject = model_aware.subjects.order_by("pk").first()
    vote(model_aware, subject, 3)
    with django_capture_on_commit_callbacks(execute=True):
        check_retirements()
    assert store.zscore(queue, subject.pk) is None
    for _ in range(10):
        assert subject.pk not in ids()


def next_url(project):
    return f"/api/projects/{project.slug}/next", {"count": "10"}


def test_staff_switch_the_rule_in_the_settings_form(make_project, staff):
    project = make_project(slug="form", subjects=1)
    client = Client()
    client.force_login(staff)
    page = client.get(f"/staff/projects/{project.slug}/edit/")
    form = {
        name: value for name, value in page.context["form"].initial.items() if value is not None
    }
    form["rotation_invariant"] = "on"
    form["is_published"] = "on"
    for name in (
        "retirement_rule",
        "retirement_threshold",
        "retirement_max_expected_change",
        "retirement_minimum_votes",
    ):
        assert f'name="{name}"' in page.content.decode()
    chosen = {
        "retirement_rule": "model_aware",
        "retirement_threshold": "0.15",
        "retirement_max_expected_change": "0.5",
        "retirement_minimum_votes": "4",
    }
    assert (
        client.post(f"/staff/projects/{project.slug}/edit/", {**form, **chosen}).status_code == 302
    )
    project.refresh_from_db()
    assert (
        project.retirement_rule,
        project.retirement_threshold,
        project.retirement_max_expected_change,
        project.retirement_minimum_votes,
    ) == ("model_aware", 0.15, 0.5, 4)
    assert rule_for(project) == retirement.Rule(project.retirement_limit, 0.15, 4, 0.5)
    refused = client.post(
        f"/staff/projects/{project.slug}/edit/", {**form, **chosen, "retirement_threshold": "0"}
    )
    assert (
        refused.status_code == 400 and "greater than or equal to 0.01" in refused.content.decode()
    )


# --- shown to staff ------------------------------------------------------------------------------


@pytest.fixture
def retired_both_ways(model_aware):
    """One subject retired by the model (3 votes), one at the limit (15), the rest active."""
    version_with_samples(model_aware)
    by_model, at_limit = model_aware.subjects.order_by("pk")[:2]
    vote(model_aware, by_model, 3)
    subjects_retire_settled(project=model_aware)
    vote(model_aware, at_limit, 15)
    return model_aware, by_model, at_limit


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_the_subject_page_shows_how_it_retired_and_the_forecast(retired_both_ways, staff_client):
    project, by_model, at_limit = retired_both_ways
    page = staff_client.get(f"/staff/projects/{project.slug}/subjects/{by_model.pk}/")
    body = page.content.decode()
    assert "Settled by the model and the votes: model v1" in body
    assert 'id="retirement-forecast"' in body and "smooth: 0.99 [" in body
    limit_page = staff_client.get(f"/staff/projects/{project.slug}/subjects/{at_limit.pk}/")
    assert "Retirement limit reached" in limit_page.content.decode()
    assert 'id="retirement-forecast"' not in limit_page.content.decode()


def test_the_dashboard_counts_retirements_by_reason(retired_both_ways, staff_client):
    project = retired_both_ways[0]
    body = staff_client.get(f"/staff/projects/{project.slug}/").content.decode()
    assert '<strong id="stat-retired">2</strong>' in body
    assert '<span id="stat-retired-limit">1</span>' in body
    assert '<span id="stat-retired-model">1</span>' in body
    assert '<span id="stat-votes-spared">12</span>' in body  # 15 - 3


def test_the_vote_count_export_says_how_each_subject_retired(retired_both_ways, staff_client):
    import csv
    import io

    project, by_model, at_limit = retired_both_ways
    response = staff_client.get(f"/staff/projects/{project.slug}/export/vote-counts.csv")
    rows = {
        int(row["subject_id"]): row
        for row in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    }
    model_row, limit_row = rows[by_model.pk], rows[at_limit.pk]
    assert (model_row["retirement_reason"], model_row["retired_by_version"]) == ("model", "1")
    assert model_row["retired_at"] and model_row["smooth-or-featured:smooth"] == "3"
    assert float(model_row["smooth-or-featured:smooth:final_estimate"]) > 0.95
    assert model_row["bar:bar:final_estimate"] == ""  # nobody reaches it
    assert (limit_row["retirement_reason"], limit_row["retired_by_version"]) == ("limit", "")
    assert limit_row["smooth-or-featured:smooth:final_estimate"] == ""
    active = next(row for pk, row in rows.items() if pk not in (by_model.pk, at_limit.pk))
    assert (active["status"], active["retirement_reason"], active["retired_at"]) == (
        "active",
        "",
        "",
    )
