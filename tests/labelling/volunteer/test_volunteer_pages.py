"""The volunteers' pages: sanitised staff Markdown, the field guide's examples, the tutorial on the
first visit, the project cards, the volunteer's own page and the votes the model asked for."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import transaction
from django.test import Client

from labelling import models
from labelling.core import selectors
from labelling.core.errors import InvalidInput
from labelling.core.markdown import render_markdown
from labelling.loop import rounds
from labelling.models import Classification, FieldGuideExample, Volunteer
from labelling.staff import guides
from labelling.volunteer import submission
from tests.labelling.volunteer.test_api import good_body, post

pytestmark = pytest.mark.django_db

HOSTILE = """# Guide

<script>alert(1)</script>
[x](javascript:alert(1)) [y](JaVaScRiPt:alert(2)) [z](data:text/html,<script>alert(3)</script>)
<img src=x onerror=alert(1)> <a href="https://example.org" onmouseover="alert(1)">ok</a>
<div style="background:url(javascript:alert(1))" onclick="alert(1)">text</div>
<iframe src="https://example.org"></iframe><svg onload=alert(1)></svg>"""


def guide(project, **changes):
    values = {
        "tutorial_markdown": "Welcome",
        "field_guide_markdown": "",
        "image_alt_text": "",
        "examples": {},
    } | changes
    return guides.project_guide_update(project=project, **values)


def test_staff_markdown_with_script_javascript_links_and_event_attributes_renders_inert():
    html = render_markdown(HOSTILE).lower()
    for forbidden in ("<script", "alert(1)</", "javascript:", "data:", "onerror", "onclick",
                      "onmouseover", "onload", "style=", "<iframe", "<svg"):  # fmt: skip
        assert forbidden not in html, (forbidden, html)
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in html
    assert '<img alt="" src="x">' in html  # kept, inert, and marked decorative
    assert "<h1>guide</h1>" in html


def test_field_guide_examples_must_be_the_projects_own_subjects_and_answers_of_its_tree(
    make_project,
):
    mine, theirs = make_project("mine", subjects=3), make_project("theirs", subjects=1)
    ids = list(mine.subjects.order_by("pk").values_list("pk", flat=True))
    stranger = theirs.subjects.get().pk
    refusals = {
        ("smooth-or-featured", "smooth"): [stranger],
        ("colour", "red"): [ids[0]],
        ("bar", "spiral"): [ids[0]],
    }
    messages = {
        ("smooth-or-featured", "smooth"): f"Unknown subject(s) [{stranger}] in project 'mine'",
        ("colour", "red"): "Unknown question 'colour' for a field guide example: expected one of",
        ("bar", "spiral"): "Unknown answer bar:spiral for a field guide example: expected one of "
        "['bar', 'no-bar']",
    }
    for pair, subject_ids in refusals.items():
        with pytest.raises(InvalidInput, match=re.escape(messages[pair])):
            guide(mine, examples={pair: subject_ids})
    guide(mine, examples={("bar", "bar"): [ids[2], ids[0]]})
    stored = FieldGuideExample.objects.filter(project=mine).order_by("position")
    assert [(e.question_key, e.answer_key, e.subject_id) for e in stored] == [
        ("bar", "bar", ids[2]),
        ("bar", "bar", ids[0]),
    ]


def test_staff_set_the_tutorial_and_examples_on_the_guide_page_and_bad_ids_are_explained(
    project, staff
):
    client = Client()
    client.force_login(staff)
    url = f"/staff/projects/{project.slug}/guide/"
    page = client.get(url).content.decode()
    assert "Examples of &#x27;No bar&#x27; (Is there a bar?)" in page
    subject = project.subjects.order_by("pk").first()
    form = {
        "tutorial_markdown": "**Hello**",
        "field_guide_markdown": "",
        "image_alt_text": "A galaxy",
        "examples_0": str(subject.pk),
        "examples_3": "12, x",
    }
    refused = client.post(url, form)
    assert refused.status_code == 400
    assert "Expected subject ids separated by commas, received &#x27;12, x&#x27;" in (
        refused.content.decode()
    )
    form["examples_3"] = "99999"
    refused = client.post(url, form)
    assert refused.status_code == 400 and "Unknown subject(s) [99999]" in refused.content.decode()
    form["examples_3"] = ""
    assert client.post(url, form).status_code == 302
    project.refresh_from_db()
    assert project.tutorial_markdown == "**Hello**" and project.image_alt_text == "A galaxy"
    example = FieldGuideExample.objects.get(project=project)
    assert (example.question_key, example.answer_key, example.subject_id) == (
        "smooth-or-featured",
        "smooth",
        subject.pk,
    )


def test_the_tutorial_is_shown_on_a_volunteers_first_visit_only(project):
    guide(project, tutorial_markdown="Look for **bars**")
    client = Client()
    url = f"/projects/{project.slug}/classify/"
    first = client.get(url).content.decode()
    assert 'data-show-tutorial="true"' in first and "<strong>bars</strong>" in first
    second = client.get(url).content.decode()
    assert 'data-show-tutorial="true"' not in second and 'id="open-tutorial"' in second
    assert 'data-show-tutorial="true"' in Client().get(url).content.decode()  # another browser


def test_a_project_without_a_tutorial_opens_none(project):
    page = Client().get(f"/projects/{project.slug}/classify/").content.decode()
    assert "data-show-tutorial" not in page and 'id="tutorial"' not in page
    assert 'id="field-guide"' in page  # the field guide lists the answers even without examples


def test_a_vote_on_a_subject_the_model_asked_for_is_marked_in_the_same_statement(
    project, volunteer, other_volunteer, django_assert_num_queries
):
    asked, other = project.subjects.order_by("pk")[:2]
    rounds.subjects_set_priorities(priorities={asked.pk: models.ROUND_PRIORITY_BASE + 3})
    votes, tree = {}, selectors.project_tree(project=project)
    for subject in (asked, other):
        with django_assert_num_queries(1):  # the vote is still one statement
            votes[subject.pk], _ = submission.classification_submit(
                project=project,
                volunteer=volunteer,
                subject_id=subject.pk,
                annotations={"smooth-or-featured": "smooth"},
                idempotency_key=f"key-{subject.pk}",
                tree=tree,
            )
    assert votes[asked.pk].requested_by_model and not votes[other.pk].requested_by_model
    stored = dict(Classification.objects.values_list("subject_id", "requested_by_model"))
    assert stored == {asked.pk: True, other.pk: False}
    # The ORM path (the embedded SQLite default) marks it the same way.
    with transaction.atomic():
        embedded, _ = submission._store_classification(
            project, other_volunteer, asked.pk, {"smooth-or-featured": "smooth"}, "orm"
        )
    assert Classification.objects.get(pk=embedded.pk).requested_by_model


def test_project_cards_show_progress_votes_and_how_many_images_the_model_asks_about(
    make_project, volunteer
):
    project = make_project("cards", subjects=4, description="Galaxies to sort")
    make_project("hidden", subjects=1, is_published=False)
    first, second, third, _ = project.subjects.order_by("pk")
    rounds.subjects_set_priorities(
        priorities={second.pk: models.ROUND_PRIORITY_BASE + 1, third.pk: models.ROUND_PRIORITY_BASE}
    )
    project.subjects.filter(pk=third.pk).update(status="retired", classification_count=15)
    project.subjects.filter(pk=first.pk).update(classification_count=2)
    page = Client().get("/").content.decode()
    assert "Galaxies to sort" in page and "Hidden" not in page
    assert "1 of 4 images done (25%)" in page
    assert "17 votes so far" in page
    assert "the model is asking about 1 image<" in page  # the retired pick no longer counts
    assert f'src="/media/{first.image}"' in page  # without field guide examples: the first subject
    assert 'alt="An example image from Cards"' in page


def test_the_volunteer_page_counts_their_classifications_and_those_the_model_asked_for(
    make_project,
):
    galaxies, other = make_project("galaxies", subjects=3), make_project("other", subjects=1)
    asked = galaxies.subjects.order_by("pk").first()
    rounds.subjects_set_priorities(priorities={asked.pk: models.ROUND_PRIORITY_BASE})
    client = Client()
    for index, subject in enumerate(galaxies.subjects.order_by("pk")[:2]):
        assert post(client, galaxies, good_body(subject, key=f"g{index}")).status_code == 201
    post(client, other, good_body(other.subjects.get(), key="o"))
    post(Client(), galaxies, good_body(asked, key="someone-else"))  # another volunteer's vote

    page = client.get("/me/").content.decode()
    assert '<strong id="volunteer-total">3</strong>' in page
    assert '<strong id="volunteer-requested">1</strong>' in page
    assert '<td class="classifications">2</td>' in page and '<td class="requested">1</td>' in page
    assert Volunteer.objects.count() == 2


def test_the_volunteer_page_of_someone_who_never_classified_creates_no_volunteer(volunteer):
    page = Client().get("/me/").content.decode()
    assert "You have not classified any images yet in this browser" in page
    assert Volunteer.objects.count() == 1  # only the fixture's


def test_a_signed_in_volunteer_sees_their_accounts_classifications_from_any_browser(
    project, volunteer
):
    submission.classification_submit(
        project=project,
        volunteer=volunteer,
        subject_id=project.subjects.first().pk,
        annotations={"smooth-or-featured": "smooth"},
        idempotency_key="elsewhere",
    )
    client = Client()
    client.force_login(volunteer.user)
    assert '<strong id="volunteer-total">1</strong>' in client.get("/me/").content.decode()


def test_the_home_page_costs_the_same_queries_however_many_projects_and_subjects(
    make_project, django_assert_max_num_queries
):
    for index in range(4):
        make_project(f"project-{index}", subjects=index + 1)
    with django_assert_max_num_queries(3):  # projects with their example image, subject totals
        assert Client().get("/").status_code == 200


def test_a_stored_tree_that_loops_shows_volunteers_an_error_instead_of_cycling(
    project, fresh_serving_state
):
    # A tree the services refuse, written behind their back (an old row, the admin, SQL).
    root = models.Question.objects.get(project=project, key="smooth-or-featured")
    models.Answer.objects.filter(question__project=project, key="bar").update(next_question=root)
    client = Client()
    page = client.get(f"/projects/{project.slug}/classify/")
    assert page.status_code == 503
    assert "loop (smooth-or-featured -&gt; bar -&gt; smooth-or-featured)" in page.content.decode()
    assert 'id="classify"' not in page.content.decode()
    for url in (f"/api/projects/{project.slug}", f"/api/projects/{project.slug}/next"):
        response = client.get(url)
        assert (
            response.status_code == 409
            and "staff fix the question tree" in response.json()["error"]
        )


def test_every_page_names_its_icon_and_favicon_ico_leads_to_it(project):
    client = Client()
    page = client.get("/").content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
    assert icon and icon[1].endswith("favicon.svg")
    redirect = client.get("/favicon.ico")
    assert redirect.status_code == 301 and redirect["Location"] == icon[1]
    found = finders.find("labelling/favicon.svg")  # what collectstatic and whitenoise serve
    assert found and "<svg" in Path(found).read_text()
