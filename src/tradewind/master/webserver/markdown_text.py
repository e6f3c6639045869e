"""Markdown a DAG author wrote (``doc_md``, a param's ``description_md``), rendered safely.

CommonMark through markdown-it-py with raw HTML turned off: a ``<script>`` in a DAG's docs is shown
as text, and links other than http(s), mailto and relative ones are dropped (markdown-it's own link
check). The result is marked safe for Jinja only because the renderer escaped everything else.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    # Imported with the first text to render: a webserver whose DAGs have no docs does without it.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str | None) -> Markup:
    """``text`` as HTML, with any HTML it holds escaped; empty for ``None``."""
    if not text:
        return Markup("")
    return Markup(_renderer().render(text))
