"""mkdocs hooks: pages that show a file kept elsewhere in the repository.

Some records live beside what they describe (the calibration record ships inside the package,
the benchmark guide sits in bench/, the changelog at the root), and the site shows them as they
are rather than keeping a second copy. Their links point at repository files that are not part
of the site, so each such link becomes its text followed by the path; the file's title gives
way to the page's own, and its other headings move one level down.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path
from typing import Any

# Page (under docs/) -> the repository file it shows after its own introduction.
SHOWN = {
    "calibration-record.md": "uncertain/calibration/README.md",
    "running-benchmarks.md": "bench/README.md",
    "changelog.md": "CHANGELOG.md",
}

_LOG = logging.getLogger("mkdocs.hooks.shown")
_RELATIVE_LINK = re.compile(r"\[([^\]\n]+)\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")
_TITLE = re.compile(r"\A\s*# [^\n]*\n")
_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _adapt(text: str, source: str) -> str:
    """`text` without its title, relative links spelled out as repository paths, and headings
    one level down (code blocks left as they are)."""
    base = posixpath.dirname(source)
    text = _TITLE.sub("", text, count=1)

    def link(match: re.Match[str]) -> str:
        return f"{match.group(1)} (`{posixpath.normpath(posixpath.join(base, match.group(2)))}`)"

    def prose(part: str) -> str:
        part = _RELATIVE_LINK.sub(link, part)
        return _HEADING.sub(lambda m: f"#{m.group(1)} ", part)

    pieces: list[str] = []
    last = 0
    for fence in _FENCE.finditer(text):
        pieces += [prose(text[last : fence.start()]), fence.group(0)]
        last = fence.end()
    pieces.append(prose(text[last:]))
    return "".join(pieces)


def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    """Append the repository file a page shows, adapted to the site."""
    source = SHOWN.get(page.file.src_uri)
    if source is None:
        return markdown
    path = Path(config.config_file_path).parent / source
    if not path.is_file():
        # A partial checkout: say so on the page rather than fail the whole site.
        _LOG.info("%s: %s is not in this checkout", page.file.src_uri, source)
        return f"{markdown}\n\n`{source}` is not in this checkout.\n"
    return f"{markdown}\n\n{_adapt(path.read_text('utf-8'), source)}"
