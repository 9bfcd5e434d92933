"""A volunteer in headless Debian chromium classifies three images with the keyboard."""

import pytest
from playwright.sync_api import expect

from labelling.catalogue import imports
from labelling.models import Classification
from mlworker import synthetic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_volunteer_classifies_three_images_with_the_keyboard(
    live_server, page, make_project, csp_violations
):
    project = make_project(slug="browser-galaxies", subjects=0)
    for index, image in enumerate(synthetic.make_galaxies(5, size=64, seed=3).images):
        imports.subject_import_image(
            project=project, name=f"{index}.png", data=synthetic.image_to_png_bytes(image)
        )
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/projects/{project.slug}/classify/")
    question = page.locator("#question")
    caption = page.locator("#subject-caption")

    expect(question).to_contain_text("smooth")
    seen = []
    for keys in (["s"], ["f", "b"], ["f", "n"]):
        expect(caption).to_contain_text("Subject")
        if seen:  # wait until the next (prefetched) image is on screen
            expect(caption).not_to_have_text(seen[-1], timeout=15_000)
        seen.append(caption.inner_text())
        for key in keys:
            page.keyboard.press(key)
        expect(page.locator("#done-count")).to_have_text(str(len(seen)), timeout=15_000)

    assert len(set(seen)) == 3  # three different images
    stored = sorted(Classification.objects.filter(project=project), key=lambda c: c.created_at)
    assert [c.annotations for c in stored] == [
        {"smooth-or-featured": "smooth"},
        {"smooth-or-featured": "featured", "bar": "bar"},
        {"smooth-or-featured": "featured", "bar": "no-bar"},
    ]
    assert [f"Subject {c.subject_id}" for c in stored] == seen
    assert len({c.volunteer_id for c in stored}) == 1
    # The page reads the tree from the project endpoint and prefetches several subjects at a time.
    assert f"{live_server.url}/api/projects/{project.slug}" in requested
    assert any("/next?count=" in url for url in requested)
    assert csp_violations == []  # the page works under its Content-Security-Policy
