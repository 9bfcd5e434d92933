"""Staff Markdown (a project's tutorial and field guide) to HTML that is safe in a volunteer's page.

Markdown passes raw HTML through, so its output is sanitised by nh3 (Rust's ammonia) against an
allow-list: no <script>, <style>, <iframe> or form elements, no event-handler or style attributes,
links only to http(s), mailto and relative URLs. What is left cannot run script.
"""

import functools
import re

import markdown as markdown_library
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# An image staff gave no alt text: marked decorative (alt=""), so screen readers skip it rather
# than read its file name. nh3's output is serialised HTML: ">" inside attributes is escaped.
IMAGE_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")


@functools.lru_cache(maxsize=256)
def render_markdown(text: str) -> str:
    """Sanitised HTML for `text` ("" for blank text). Cached: the same text renders once."""
    if not text.strip():
        return ""
    html = markdown_library.markdown(text, extensions=["tables", "sane_lists"])
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return IMAGE_WITHOUT_ALT.sub('<img alt=""', cleaned)
