"""Markdown from people, rendered to HTML that is safe to show anywhere (console, status page, email)."""

from __future__ import annotations

import markdown as markdown_lib
import nh3

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render(text: str) -> str:
    """Render Markdown, then keep only an allow-list of tags (raw HTML, scripts and handlers are dropped)."""
    html = markdown_lib.markdown(text, extensions=["fenced_code", "tables", "sane_lists"])
    return nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )  # fmt: skip
