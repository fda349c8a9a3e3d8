"""Escaping for the prompt styles: minimal, reversible, and safe for the `<document>` fence."""

from __future__ import annotations

import re

from uncertain.errors import InputError

# Characters that are invisible or change how surrounding text is displayed: C0/C1 controls
# (tab and newline excepted), format characters (zero-width, bidi embeddings, overrides and
# isolates, tag characters used for "ASCII smuggling"), line/paragraph separators, variation
# selectors, invisible fillers and lone surrogates. Kept as ranges so importing stays cheap;
# a test checks the list covers every Cc/Cf/Zl/Zp/Cs character Python knows.
_INVISIBLE_RANGES = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ud800-\udfff\ufe00-\ufe0f\ufeff\uffa0"
    "\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
INVISIBLE = re.compile(f"[{_INVISIBLE_RANGES}]")
"""Matches one invisible or display-changing character: what every style writes as a code."""
_INVISIBLE = INVISIBLE  # its name before it was public


def _xml_ref(match: re.Match[str]) -> str:
    return f"&#x{ord(match.group()):X};"


def _bs_ref(match: re.Match[str]) -> str:
    return f"\\u{{{ord(match.group()):X}}}"


def _json_ref(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON has only 16-bit escapes: write a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def _xml_text(text: str, invisible: bool = True) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _INVISIBLE.sub(_xml_ref, text) if invisible else text


def _xml_attr(text: str) -> str:
    # `|` separates alternatives; newline and tab are escaped so a tag stays on one line.
    text = (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("|", "&#x7C;")
        .replace("\n", "&#xA;")
        .replace("\t", "&#x9;")
    )
    return _INVISIBLE.sub(_xml_ref, text)


_XML_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#x([0-9A-Fa-f]{1,6})|#([0-9]{1,7}));")
_XML_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _xml_unescape(text: str) -> str:
    if "&" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        name, hexa, dec = match.groups()
        if name:
            return _XML_NAMED[name]
        return _char(int(hexa, 16) if hexa else int(dec))

    return _XML_ENTITY.sub(one, text)


def _char(code: int) -> str:
    if code > 0x10FFFF:
        raise InputError(None, f"character reference {code:#x} is beyond Unicode")
    return chr(code)


def _bs_outside(text: str, invisible: bool = True) -> str:
    """Brackets style, outside marks: only what could open a mark or close the fence."""
    text = text.replace("\\", "\\\\").replace("[", "\\[").replace("<", "\\u{3C}")
    return _INVISIBLE.sub(_bs_ref, text) if invisible else text


def _bs_inside(text: str) -> str:
    """Brackets style, inside a mark: also what could end a field or the mark."""
    text = (
        text.replace("\\", "\\\\")
        .replace("[", "\\[")
        .replace("]", "\\]")
        .replace("|", "\\|")
        .replace("<", "\\u{3C}")
    )
    return _INVISIBLE.sub(_bs_ref, text)


def _fn_body(text: str, invisible: bool = True) -> str:
    """Footnotes style, body: every `[` is escaped, so only markers look like `[1]`."""
    text = text.replace("\\", "\\\\").replace("[", "\\[").replace("<", "\\u{3C}")
    return _INVISIBLE.sub(_bs_ref, text) if invisible else text


def _fn_quoted(text: str) -> str:
    """Footnotes style, a quoted reading in a note: one line, quotes escaped."""
    text = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("<", "\\u{3C}")
    )
    return _INVISIBLE.sub(_bs_ref, text)


_BS_ESCAPE = re.compile(r"\\u\{([0-9A-Fa-f]{1,6})\}|\\(n)|\\(.)", re.S)


def _bs_unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        hexa, newline, other = match.groups()
        if hexa is not None:
            return _char(int(hexa, 16))
        return "\n" if newline else other

    return _BS_ESCAPE.sub(one, text)
