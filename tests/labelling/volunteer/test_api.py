"""The volunteer API, through Django's test client and through the application production serves
(the fast path in front of Django: tests/deployed.py)."""

import json

import pytest

from labelling.models import Classification, SubjectStatus

pytestmark = pytest.mark.django_db


def post(client, project, body, content_type="application/json"):
    payload = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        f"/api/projects/{project.slug}/classifications", payload, content_type=content_type
    )


def volunteer_client(client_class, project):
    """A client whose session holds its volunteer (after a next): through the deployed application,
    its next and submit are the fast path's to answer."""
    client = client_class()
    assert client.get(f"/api/projects/{project.slug}/next").status_code == 200
    return client


def good_body(subject, key="key-1"):
    return {
        "subject": subject.pk,
        "answers": {"smooth-or-featured": "smooth"},
        "idempotency_key": key,
    }


def test_first_submit_is_created_and_a_replay_returns_the_same_result(project, client_class):
    client = client_class()
    subject = project.subjects.first()
    first = post(client, project, good_body(subject))
    replay = post(client, project, good_body(subject))
    assert first.status_code == 201 and replay.status_code == 200
    assert first.json()["id"] == replay.json()["id"] and replay.json()["created"] is False
    assert Classification.objects.count() == 1


def test_anonymous_volunteers_are_told_apart_by_their_session(project, client_class):
    subject = project.subjects.first()
    assert post(client_class(), project, good_body(subject)).status_code == 201
    assert post(client_class(), project, good_body(subject)).status_code == 201
    assert (
        Classification.objects.filter(subject=subject).values("volunteer").distinct().count() == 2
    )


def test_sessions_from_one_address_share_its_digest_never_the_address(project, client_class):
    subject = project.subjects.first()
    for address in ("198.51.100.4", "198.51.100.4", "198.51.100.9"):
        client = client_class(REMOTE_ADDR=address)
        assert post(client, project, good_body(subject)).status_code == 201
    digests = [
        c.volunteer.address_digest
        for c in Classification.objects.filter(subject=subject).select_related("volunteer")
    ]
    assert digests[0] == digests[1] != digests[2] and "198.51" not in "".join(digests)


@pytest.mark.parametrize(
    "change, status, message",
    [
        ({"subject": 999999}, 404, "Unknown subject 999999"),
        ({"subject": "abc"}, 404, "expected a subject id"),
        ({"answers": {"colour": "red"}}, 400, "Unknown question 'colour'"),
        ({"answers": {"smooth-or-featured": "round"}}, 400, "Unknown answer 'round'"),
        ({"answers": {"smooth-or-featured": "featured"}}, 400, "Missing answer to question 'bar'"),
        (
            {"answers": {"smooth-or-featured": "smooth", "bar": "bar"}},
            400,
            "does not follow the tree",
        ),
        ({"answers": "smooth"}, 400, "expected a non-empty object"),
        ({"idempotency_key": ""}, 400, "idempotency_key"),
        ({"idempotency_key": "x" * 65}, 400, "1 to 64 characters"),
        ({"idempotency_key": 12}, 400, "idempotency_key"),
        ({"idempotency_key": "a\x00b"}, 400, "no NUL character"),
        ({"extra": 1}, 400, "Unknown field(s) ['extra']"),
    ],
)
def test_malformed_classifications_are_refused_with_a_message_naming_the_problem(
    project, change, status, message, client_class
):
    body = {**good_body(project.subjects.first()), **change}
    response = post(volunteer_client(client_class, project), project, body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert Classification.objects.count() == 0


@pytest.mark.parametrize(
    "payload, content_type, message",
    [
        ("{not json", "application/json", "Invalid JSON body"),
        ("[1, 2]", "application/json", "expected an object"),
        ("subject=1", "application/x-www-form-urlencoded", "expected application/json"),
        (b"\xff\xfe", "application/json", "Invalid JSON body"),
        ('{"subject": 1}', "application/json", "Missing field(s) ['answers', 'idempotency_key']"),
    ],
)
def test_bodies_that_are_not_a_classification_are_refused(
    project, payload, content_type, message, client_class
):
    response = post(volunteer_client(client_class, project), project, payload, content_type)
    assert response.status_code == 400 and message in response.json()["error"]


def test_a_subject_of_another_project_is_not_found_through_this_project(make_project, client_class):
    mine = make_project(slug="mine", subjects=1)
    theirs = make_project(slug="theirs", subjects=1)
    response = post(volunteer_client(client_class, mine), mine, good_body(theirs.subjects.first()))
    assert response.status_code == 404 and "Unknown subject" in response.json()["error"]


def test_second_classification_of_the_same_subject_is_refused(project, client_class):
    client = client_class()
    subject = project.subjects.first()
    post(client, project, good_body(subject, "a"))
    response = post(client, project, good_body(subject, "b"))
    assert response.status_code == 409 and "already classified" in response.json()["error"]


def test_reusing_a_key_for_another_subject_is_refused(project, client_class):
    client = client_class()
    first, second = project.subjects.all()[:2]
    post(client, project, good_body(first, "same"))
    response = post(client, project, good_body(second, "same"))
    assert response.status_code == 409 and "already used for subject" in response.json()["error"]


def test_wrong_methods_and_unknown_projects_are_refused(project, client_class):
    client = volunteer_client(client_class, project)
    assert client.get(f"/api/projects/{project.slug}/classifications").status_code == 405
    assert client.post(f"/api/projects/{project.slug}/next").status_code == 405
    response = client.get("/api/projects/no-such-project/next")
    assert response.status_code == 404 and "Unknown project" in response.json()["error"]


@pytest.mark.parametrize("exclude", ["a,b", "1,,2", ",".join(["1"] * 21), "-1"])
def test_a_bad_exclude_list_is_refused(project, exclude, client_class):
    client = volunteer_client(client_class, project)
    response = client.get(f"/api/projects/{project.slug}/next", {"exclude": exclude})
    assert response.status_code == 400 and "exclude" in response.json()["error"]


def test_next_never_serves_retired_classified_or_excluded_subjects(make_project, client_class):
    project = make_project(slug="serve", subjects=4)
    subjects = list(project.subjects.order_by("pk"))
    project.subjects.filter(pk=subjects[0].pk).update(status=SubjectStatus.RETIRED)
    client = client_class()
    post(client, project, good_body(subjects[1]))
    for _ in range(15):
        served = client.get(
            f"/api/projects/{project.slug}/next", {"exclude": str(subjects[2].pk)}
        ).json()
        assert served["subject"]["id"] == subjects[3].pk
    post(client, project, good_body(subjects[3], "k2"))
    post(client, project, good_body(subjects[2], "k3"))
    assert client.get(f"/api/projects/{project.slug}/next").json()["subject"] is None


def test_unpublished_projects_are_hidden_from_volunteers(make_project, client_class):
    project = make_project(slug="hidden", subjects=1, is_published=False)
    assert client_class().get(f"/api/projects/{project.slug}/next").status_code == 404
    assert client_class().get(f"/projects/{project.slug}/classify/").status_code == 404


def test_pages_render_with_the_tree_and_shortcuts(project, client_class):
    client = client_class()
    assert project.title in client.get("/").content.decode()
    page = client.get(f"/projects/{project.slug}/classify/").content.decode()
    assert 'id="question-tree"' in page and '"shortcut": "f"' in page
