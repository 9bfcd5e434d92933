"""Helpers the browser tests share: where their screenshots go, and waiting on the dashboard for a
retrain by the real worker."""

from playwright.sync_api import expect

from tests.outputs import docs_folder

# The web tests' two-question tree (tests.conftest.TWO_QUESTION_TREE) as staff type it in the form.
TREE_TEXT = """smooth-or-featured: Is the galaxy smooth or featured?
  smooth [s] Smooth
  featured [f] Featured or disk -> bar
bar: Is there a bar?
  bar [b] Bar
  no-bar [n] No bar"""


def screenshot(page, name: str, full_page: bool = True) -> None:
    """The page (the whole of it, or the viewport) as screenshots/<name> in the docs folder: docs/
    for `make docs-figures` (the README shows them), test-artifacts/docs/ otherwise
    (tests/outputs.py)."""
    folder = docs_folder() / "screenshots"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=full_page)


def screenshot_element(locator, name: str) -> None:
    """One element of a page as screenshots/<name>, where `screenshot` puts a page's."""
    folder = docs_folder() / "screenshots"
    folder.mkdir(exist_ok=True)
    locator.screenshot(path=str(folder / name))


def wait_for_ready_versions(page, count: int, seconds: int = 120) -> None:
    """Reload the project's dashboard until `count` versions are ready and the retrain claim is
    released (the worker trained, scored the pool and recorded the round)."""
    for _ in range(seconds):
        if (
            page.locator("#model-versions .version-ready").count() >= count
            and page.locator("#retrain-state").inner_text() == "idle"
        ):
            break
        page.wait_for_timeout(1000)
        page.reload()
    expect(page.locator("#model-versions .version-ready")).to_have_count(count)
