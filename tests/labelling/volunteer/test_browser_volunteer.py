"""A new volunteer in headless Debian chromium: project cards, the tutorial on the first visit, the
field guide, three classifications at desktop size (mouse and keyboard) and on a 390 x 844 phone
(touch), their own page; axe-core finds no serious or critical accessibility violation."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from labelling import models
from labelling.catalogue import imports
from labelling.core import projects
from labelling.loop import rounds
from labelling.models import Classification, Project
from labelling.staff import guides
from mlworker import synthetic
from tests.browser import screenshot
from tests.conftest import TWO_QUESTION_TREE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TUTORIAL = """## Welcome

Answer what you see. A **bar** is a straight band of stars through the centre.

<script>window.__pwned = true; alert(1)</script>
[a bad link](javascript:alert(1)) <img src=x onerror="window.__pwned = true; alert(1)">"""
FIELD_GUIDE = "Compare with these examples. <a href='#' onclick='alert(1)'>hover</a>"


def guided_project(slug: str) -> Project:
    """A published project of 6 synthetic galaxies with a tutorial, a field guide and examples;
    4 subjects are the model's current picks."""
    project = projects.project_create(
        slug=slug,
        title="Galaxy Hunt",
        description="Sort synthetic galaxies into smooth and featured.",
        questions=TWO_QUESTION_TREE,
    )
    for index, image in enumerate(synthetic.make_galaxies(6, size=64, seed=5).images):
        imports.subject_import_image(
            project=project, name=f"{index}.png", data=synthetic.image_to_png_bytes(image)
        )
    ids = list(project.subjects.order_by("pk").values_list("pk", flat=True))
    guides.project_guide_update(
        project=project,
        tutorial_markdown=TUTORIAL,
        field_guide_markdown=FIELD_GUIDE,
        image_alt_text="A synthetic galaxy, drawn for practice",
        examples={
            ("smooth-or-featured", "smooth"): ids[:2],
            ("smooth-or-featured", "featured"): ids[2:3],
            ("bar", "bar"): ids[3:4],
        },
    )
    rounds.subjects_set_priorities(
        priorities={pk: models.ROUND_PRIORITY_BASE + rank for rank, pk in enumerate(ids[:4])}
    )
    return project


def assert_accessible(page, name: str) -> None:
    """axe-core (shipped in axe-playwright-python's wheel) finds nothing serious or critical."""
    results = Axe().run(page)
    bad = [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert bad == [], (name, bad)


def close_tutorial_after_checks(page) -> None:
    tutorial = page.locator("#tutorial")
    expect(tutorial).to_be_visible()  # the first visit opens it
    expect(tutorial).to_contain_text("A bar is a straight band")
    assert_accessible(page, "tutorial")
    tutorial.get_by_role("button", name="Start classifying").click()
    expect(tutorial).to_be_hidden()


def test_a_new_volunteer_reads_the_tutorial_classifies_three_images_and_sees_their_count(
    live_server, page, csp_violations
):
    project = guided_project("galaxy-hunt")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(f"{live_server.url}/")
    card = page.locator(".project-card", has_text="Galaxy Hunt")
    expect(card.locator(".votes")).to_have_text("0 votes so far")
    expect(card.locator(".asking")).to_have_text("the model is asking about 4 images")
    expect(card.locator("img.card-image")).to_have_attribute(
        "alt", "A synthetic galaxy, drawn for practice"
    )
    assert_accessible(page, "home")
    screenshot(page, "home.png", full_page=False)
    card.get_by_role("link", name="Classify Galaxy Hunt").click()

    close_tutorial_after_checks(page)
    # The staff text's script, javascript: link and event attribute are inert.
    assert page.evaluate("window.__pwned") is None
    assert (
        page.locator("#tutorial script, #tutorial [onerror], #tutorial a[href^=javascript]").count()
        == 0
    )

    # The field guide: its key opens it, Escape closes it and focus comes back.
    expect(page.locator("#question")).to_contain_text("smooth")
    page.keyboard.press("?")
    guide = page.locator("#field-guide")
    expect(guide).to_be_visible()
    expect(guide.locator("[data-answer='smooth-or-featured:smooth'] img")).to_have_count(2)
    expect(guide.locator("[data-answer='bar:bar'] img")).to_have_attribute(
        "alt", f"Example of 'Bar' (subject {project.subjects.order_by('pk')[3].pk})"
    )
    assert_accessible(page, "field guide")
    screenshot(page, "field-guide.png", full_page=False)
    page.keyboard.press("Escape")
    expect(guide).to_be_hidden()
    page.get_by_role("button", name="Field guide").click()
    expect(guide).to_be_visible()
    guide.get_by_role("button", name="Close").click()
    expect(guide).to_be_hidden()
    expect(page.get_by_role("button", name="Field guide")).to_be_focused()

    assert_accessible(page, "classify")
    screenshot(page, "classify-desktop.png", full_page=False)
    caption = page.locator("#subject-caption")
    seen = []
    # First image by mouse, then keyboard: the answers are buttons named by their text.
    for step, answers in enumerate((["Smooth"], ["Featured or disk", "Bar"], ["f", "n"])):
        expect(caption).to_contain_text("Subject")
        if seen:
            expect(caption).not_to_have_text(seen[-1], timeout=15_000)
        seen.append(caption.inner_text())
        expect(page.locator("#subject-image")).to_have_attribute(
            "alt", f"A synthetic galaxy, drawn for practice ({seen[-1].lower()})"
        )
        for answer in answers:
            if step < 2:
                page.get_by_role("button", name=answer, exact=True).click()
            else:
                page.keyboard.press(answer)
        expect(page.locator("#done-count")).to_have_text(str(len(seen)), timeout=15_000)
    requested = Classification.objects.filter(project=project, requested_by_model=True).count()
    expect(page.locator("#requested-count")).to_have_text(str(requested))

    page.get_by_role("link", name="Your classifications").click()
    expect(page.locator("#volunteer-total")).to_have_text("3")
    row = page.locator("tr[data-project='galaxy-hunt']")
    expect(row.locator(".classifications")).to_have_text("3")
    expect(row.locator(".requested")).to_have_text(str(requested))
    assert requested >= 1  # 4 of the 6 are the model's picks, served first
    assert_accessible(page, "volunteer page")

    # A second visit does not show the tutorial again; its button does.
    page.goto(f"{live_server.url}/projects/{project.slug}/classify/")
    expect(page.locator("#question")).to_contain_text("?")
    expect(page.locator("#tutorial")).to_be_hidden()
    page.get_by_role("button", name="Tutorial").click()
    expect(page.locator("#tutorial")).to_be_visible()
    assert dialogs == [] and csp_violations == []


def test_on_a_phone_a_volunteer_classifies_three_images_by_touch(
    live_server, browser, csp_violations
):
    project = guided_project("galaxy-hunt-phone")
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/projects/{project.slug}/classify/")
    page.locator("#tutorial").get_by_role("button", name="Start classifying").tap()
    expect(page.locator("#tutorial")).to_be_hidden()
    page.get_by_role("button", name="Field guide").tap()
    expect(page.locator("#field-guide")).to_be_visible()
    page.locator("#field-guide").get_by_role("button", name="Close").tap()
    expect(page.locator("#question")).to_contain_text("smooth")

    # Image above the answers, answers as large full-width buttons, nothing wider than the screen.
    image = page.locator("#subject-image").bounding_box()
    smooth = page.get_by_role("button", name="Smooth", exact=True).bounding_box()
    assert image["y"] + image["height"] <= smooth["y"], (image, smooth)
    assert smooth["height"] >= 48 and smooth["width"] >= 300, smooth
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page, "classify on a phone")
    screenshot(page, "classify-phone.png", full_page=False)

    caption = page.locator("#subject-caption")
    seen = []
    for answers in (["Smooth"], ["Featured or disk", "Bar"], ["Featured or disk", "No bar"]):
        expect(caption).to_contain_text("Subject")
        if seen:
            expect(caption).not_to_have_text(seen[-1], timeout=15_000)
        seen.append(caption.inner_text())
        for answer in answers:
            page.get_by_role("button", name=answer, exact=True).tap()
        expect(page.locator("#done-count")).to_have_text(str(len(seen)), timeout=15_000)
    stored = Classification.objects.filter(project=project).order_by("created_at")
    assert [c.annotations for c in stored] == [
        {"smooth-or-featured": "smooth"},
        {"smooth-or-featured": "featured", "bar": "bar"},
        {"smooth-or-featured": "featured", "bar": "no-bar"},
    ]
    page.goto(f"{live_server.url}/me/")
    expect(page.locator("#volunteer-total")).to_have_text("3")
    assert_accessible(page, "volunteer page on a phone")
    screenshot(page, "volunteer-phone.png", full_page=False)
    context.close()
    assert csp_violations == []
