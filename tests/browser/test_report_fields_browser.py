"""The fields panel in a real headless Chromium: hovering and clicking a field lights its words
and boxes; hostile field data runs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_report_browser import browser, open_report  # noqa: F401 - fixture
from tests.exporters.docs import HOSTILE_WORDS, hostile_image
from tests.exporters.test_report_fields import extraction
from uncertain._files import atomic_write_text
from uncertain.exporters import export_fields_html

pytestmark = pytest.mark.browser


def lit(page: Any) -> list[str]:
    return sorted(page.eval_on_selector_all(".fh", "els => els.map(e => e.tagName + e.dataset.i)"))


def test_fields_light_their_words_and_boxes(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    doc = hostile_image()
    data = extraction(
        {
            "first": {"value": HOSTILE_WORDS[0], "confidence": 0.9, "span_ids": [0, 1]},
            "evil": {
                "value": "</script><script>window.__pwned=3</script>",
                "confidence": 0.1,
                "needs_review": True,
                "span_ids": [3],
                "reasons": ["<img src=x onerror=window.__pwned=4>"],
            },
        }
    )
    path = tmp_path / "scan.fields.html"
    atomic_write_text(path, export_fields_html(doc, data))
    page, errors, dialogs = open_report(browser, path)
    assert lit(page) == []
    page.hover('[data-f="0"]')
    # hostile_image has no picture file, so the boxes are drawn alone: rects and words both.
    assert lit(page) == ["SPAN0", "SPAN1", "rect0", "rect1"]
    page.click('[data-f="1"]')  # pinned: stays lit when the pointer leaves
    page.mouse.move(1, 1)
    assert lit(page) == ["SPAN3", "rect3"]
    page.click('[data-f="1"]')  # a second click lets go
    page.mouse.move(1, 1)
    assert lit(page) == []
    page.focus('[data-f="0"]')  # the keyboard reaches the fields too
    assert lit(page) == ["SPAN0", "SPAN1", "rect0", "rect1"]
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == [] and not errors, errors
    page.close()
