"""Helpers the browser tests share: where their screenshots go, and waiting on the dashboard for a
retrain by the real worker."""

from pathlib import Path

from playwright.sync_api import expect

# The web tests' two-question tree (tests.conftest.TWO_QUESTION_TREE) as staff type it in the form.
TREE_TEXT = """smooth-or-featured: Is the galaxy smooth or featured?
  smooth [s] Smooth
  featured [f] Featured or disk -> bar
bar: Is there a bar?
  bar [b] Bar
  no-bar [n] No bar"""

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def screenshot(page, name: str) -> None:
    """The whole page, as docs/screenshots/<name> (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


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
