"""Prompt rendering: put a document's uncertainty in front of an LLM, compactly and safely.

`render` turns a `Document` into prompt text in one of five styles (shown with
`alternatives=1, digits=2, ids=True`; by default marks carry neither p, alternatives nor ids,
which keeps a mark to 2 tokens in `brackets`, `[metaformin?]`, and 6 in `inline`):

    inline     The patient takes <u id="12" p="0.31" alt="metformin">metaformin</u>.
    brackets   The patient takes [metaformin|metformin?0.31 #12].
    footnotes  The patient takes metaformin[1].   (readings listed below a "---" line)
    json       ["takes ",{"unsure":"metaformin","p":0.31,"alt":["metformin"],"id":"12"},"."]
    plain      The patient takes metaformin.

`preamble` is the short instruction that tells a model how to read a style, `to_messages`
builds chat messages (system + user) with the document fenced in `<document>` tags, `parse`
reads a rendered prompt back (exactly the document text and the marks), `trace` finds
which parts of an LLM's answer rest on marked spans, and `guard` keeps a model's corrected
transcript only where the words were marked.

The document text is untrusted. Each style escapes minimally and reversibly, so that no text
can close a mark, open a fake one, or close the `<document>` fence:

- inline: XML entities (`&amp; &lt; &gt;`, and `&quot;` / `&#x7C;` inside attributes);
- brackets and footnotes: backslash escapes (`\\\\ \\[ \\] \\| \\"`, `<` as `\\u{3C}`; every `[` in
  the text is escaped, since `[` opens a mark);
- json: JSON string escapes, with `<` written as `\\u003c`.

Control, zero-width, bidi-override and other invisible characters would survive a round trip
as raw characters but could reorder or hide markup on screen, so every style writes them as
visible escapes (`&#x202E;`, `\\u{202E}`, `\\u202e`) that `parse` turns back into the character.
Tab and newline stay as they are.

`uncertain.render` is this package; the function is `uncertain.render.render`, also
`uncertain.render_prompt`. Calling the package itself, `uncertain.render(doc)`, still works but
is deprecated: it warns and calls `render`.
"""

import sys
import warnings
from types import ModuleType
from typing import Any

from uncertain.render.guarding import guard
from uncertain.render.parsing import ParsedMark, ParsedPrompt, parse
from uncertain.render.styles import (
    MARK_THRESHOLD,
    STYLES,
    MarksOption,
    Style,
    preamble,
    render,
    to_messages,
)
from uncertain.render.tracing import TraceHit, trace

__all__ = [
    "MARK_THRESHOLD",
    "STYLES",
    "MarksOption",
    "ParsedMark",
    "ParsedPrompt",
    "Style",
    "TraceHit",
    "guard",
    "parse",
    "preamble",
    "render",
    "to_messages",
    "trace",
]


class _CallablePackage(ModuleType):
    """This package, callable as the function it once was shadowed by (deprecated)."""

    def __call__(self, *args: Any, **kwargs: Any) -> str:
        warnings.warn(
            "calling uncertain.render(doc, ...) is deprecated; use uncertain.render_prompt(doc, "
            "...) or uncertain.render.render(doc, ...)",
            DeprecationWarning,
            stacklevel=2,
        )
        return render(*args, **kwargs)


# `uncertain.render(doc)` was the function until the package took the name back; a module whose
# class has `__call__` keeps that call working while `uncertain.render` is this package.
sys.modules[__name__].__class__ = _CallablePackage
