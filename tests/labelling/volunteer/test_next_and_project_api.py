"""The volunteers' next and project endpoints (labelling/volunteer/api.py): `count`, `exclude`, the
answer's shape, the project endpoint and how soon it follows staff's changes. Real PostgreSQL and
real Redis."""

import time

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from labelling.core import snapshots
from labelling.models import Subject
from tests.conftest import ranked_by_a_model
from tests.labelling.api_calls import get_next, submit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_serving_state")]


def test_next_with_count_answers_that_many_distinct_subjects_best_first(make_project):
    project = ranked_by_a_model(make_project(slug="counted", subjects=8))
    body = get_next(Client(), project, count="3").json()
    ids = [subject["id"] for subject in body["subjects"]]
    assert len(ids) == 3 and len(set(ids)) == 3
    priorities = dict(Subject.objects.filter(pk__in=ids).values_list("pk", "priority"))
    assert [priorities[pk] for pk in ids] == sorted(priorities.values(), reverse=True)
    assert all(subject["image_url"].startswith("/media/subjects/") for subject in body["subjects"])


def test_next_with_count_leaves_out_excluded_and_says_when_fewer_are_left(make_project):
    project = make_project(slug="few", subjects=3)
    first, second, third = project.subjects.order_by("pk")
    body = get_next(Client(), project, count="10", exclude=f"{first.pk},{second.pk}").json()
    assert [subject["id"] for subject in body["subjects"]] == [third.pk]
    client = Client()
    for subject in (first, second, third):
        assert submit(client, project, subject.pk).status_code == 201
    assert get_next(client, project, count="2").json() == {"subjects": []}


@pytest.mark.parametrize("count", ["0", "11", "-1", "abc", "", "2.5", "1e1", " 3", "²", "٣"])
def test_a_count_outside_1_to_10_is_refused_with_a_message(project, count):
    response = get_next(Client(), project, count=count)
    assert response.status_code == 400
    assert "Invalid value for count: expected an integer from 1 to 10" in response.json()["error"]


@pytest.mark.parametrize("exclude", ["²", "9" * 30])
def test_an_exclude_list_that_is_no_list_of_ids_is_refused(project, exclude):
    response = get_next(Client(), project, count="2", exclude=exclude)
    assert response.status_code == 400 and "Invalid value for exclude" in response.json()["error"]


def test_without_count_the_answer_keeps_its_old_shape(project):
    body = get_next(Client(), project).json()
    assert set(body) == {"subject"} and set(body["subject"]) == {"id", "image_url"}


def test_project_endpoint_gives_the_tree_and_the_settings_a_client_needs(project):
    response = Client().get(f"/api/projects/{project.slug}")
    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == project.slug and body["retirement_limit"] == project.retirement_limit
    assert body["tree"]["root"] == "smooth-or-featured"
    answers = body["tree"]["questions"]["smooth-or-featured"]["answers"]
    assert [(a["key"], a["shortcut"], a["next"]) for a in answers] == [
        ("smooth", "s", None),
        ("featured", "f", "bar"),
    ]
    assert body["question_order"] == ["smooth-or-featured", "bar"]
    assert body["next_url"] == f"/api/projects/{project.slug}/next"
    assert body["classifications_url"] == f"/api/projects/{project.slug}/classifications"
    assert body["max_count"] == 10
    assert "csrftoken" in response.cookies  # so that a client can submit next


def test_project_endpoint_refuses_outsiders_unknown_projects_and_other_methods(make_project):
    hidden = make_project(slug="hidden", subjects=1, is_published=False)
    for path in (f"/api/projects/{hidden.slug}", f"/api/projects/{hidden.slug}/next?count=2"):
        response = Client().get(path)
        assert (
            response.status_code == 404 and "Unknown project 'hidden'" in response.json()["error"]
        )
    assert Client().get("/api/projects/nothing-here").status_code == 404
    response = Client().post(f"/api/projects/{hidden.slug}")
    assert response.status_code == 405 and "use GET" in response.json()["error"]


def test_a_tree_changed_by_staff_reaches_the_project_endpoint_at_once(project):
    from labelling.core import projects
    from labelling.core.tree import nodes_from_dicts

    yes_or_no = [
        {"key": "yes", "text": "Yes", "shortcut": "y"},
        {"key": "no", "text": "No", "shortcut": "n"},
    ]
    client = Client()
    assert (
        client.get(f"/api/projects/{project.slug}").json()["tree"]["root"] == "smooth-or-featured"
    )
    projects.project_update(
        project=project,
        questions=nodes_from_dicts([{"key": "round", "text": "Round?", "answers": yes_or_no}]),
    )
    assert client.get(f"/api/projects/{project.slug}").json()["tree"]["root"] == "round"
    assert submit(client, project, project.subjects.first().pk, {"round": "yes"}).status_code == 201


def test_project_cache_follows_publishing_within_a_second(make_project):
    project = make_project(slug="unpublish", subjects=2)
    client = Client()
    assert get_next(client, project).status_code == 200
    type(project).objects.filter(pk=project.pk).update(is_published=False)  # no signal: stale
    time.sleep(snapshots.RECHECK_SECONDS)
    assert get_next(client, project).status_code == 404
    type(project).objects.filter(pk=project.pk).update(
        is_published=True, serving_version=F("serving_version") + 1
    )
    time.sleep(snapshots.RECHECK_SECONDS)
    assert get_next(client, project).status_code == 200
    assert timezone.now()
