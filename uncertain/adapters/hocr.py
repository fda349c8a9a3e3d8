"""hOCR parser: one page of Tesseract's hOCR into paragraphs, lines, words and characters.

Tesseract writes hOCR (XHTML whose `title` attributes carry properties such as
`bbox 10 20 30 40; x_wconf 91`). With `-c hocr_char_boxes=1` every character of a word is an
`ocrx_cinfo` element with its box and `x_conf`; with `-c lstm_choice_mode=2` each character is
followed by an `ocrx_cinfo` group (id `lstm_choices_...`) listing the decoder's alternative
characters, each with a score `x_confs` in 0..100. The score is `100 - 5 * rating`, where
the rating is the negative log probability of that character's path through the LSTM output,
clipped at 0, so `exp(score / 5)` is proportional to the path's probability.

The structure is read with the standard library's `html.parser` (lenient: any input gives a
result, never an exception); only the `title` mini-language is split by a small tokenizer.
`parse_hocr` is pure and total: malformed input gives a page with what could be read, or
`InputError` (a `ValueError`) when there is no page at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html.parser import HTMLParser

from uncertain.errors import InputError

__all__ = [
    "HocrChar",
    "HocrLine",
    "HocrPage",
    "HocrParagraph",
    "HocrWord",
    "PixelBox",
    "parse_hocr",
    "parse_title",
]

PixelBox = tuple[float, float, float, float]
"""A box as (x0, y0, x1, y1) in pixels, x0 <= x1 and y0 <= y1."""

_LINE_CLASSES = frozenset(
    {"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat", "ocr_textline"}
)
_VOID_TAGS = frozenset({"meta", "br", "img", "hr", "link", "input", "area", "base", "col", "wbr"})
_MAX_DEPTH = 256  # deeper nesting than any real hOCR; bounds the work per tag on hostile input


@dataclass
class HocrChar:
    """One recognized character with its box, score and the decoder's alternatives."""

    text: str
    box: PixelBox | None = None
    conf: float | None = None
    """Tesseract's `x_conf` for the character, 0..100 (a rescaled log score)."""
    choices: list[tuple[str, float]] = field(default_factory=list)
    """Alternative characters with their `x_confs` score (0..100), in Tesseract's order."""
    synthetic: bool = False
    """True when the character was made from a choice group alone (no `ocrx_cinfo` box)."""


@dataclass
class HocrWord:
    """One word (`ocrx_word`): text, box, Tesseract's word score and its characters."""

    text: str
    box: PixelBox | None = None
    wconf: float | None = None
    """Tesseract's `x_wconf`, 0..100 (a rescaled log score, not a probability)."""
    chars: list[HocrChar] = field(default_factory=list)
    lang: str | None = None


@dataclass
class HocrLine:
    """One text line (`ocr_line`, `ocr_header`, `ocr_caption`, `ocr_textfloat`)."""

    box: PixelBox | None = None
    words: list[HocrWord] = field(default_factory=list)
    kind: str = "ocr_line"
    x_size: float | None = None


@dataclass
class HocrParagraph:
    """One paragraph (`ocr_par`) of lines."""

    box: PixelBox | None = None
    lines: list[HocrLine] = field(default_factory=list)
    lang: str | None = None


@dataclass
class HocrPage:
    """One page (`ocr_page`): its size in pixels, resolution and paragraphs."""

    index: int
    width: int
    height: int
    dpi: float | None = None
    paragraphs: list[HocrParagraph] = field(default_factory=list)

    def words(self) -> list[HocrWord]:
        """All words of the page in reading order."""
        return [w for p in self.paragraphs for line in p.lines for w in line.words]


def parse_title(title: str) -> dict[str, list[str]]:
    """Split an hOCR `title` into properties: `'bbox 1 2 3 4; x_wconf 9'` -> {'bbox': [...]}.

    Properties are separated by `;` and values by white space; double-quoted strings (such as
    the `image` file name) may hold either. The first property of a name wins.
    """
    properties: dict[str, list[str]] = {}
    if '"' not in title:  # the common case, with the same whitespace rule as below
        for part in title.split(";"):
            words = part.split()
            if words:
                properties.setdefault(words[0], words[1:])
        return properties
    tokens: list[str] = []
    current: list[str] = []
    quoted = False
    has_token = False

    def end_token() -> None:
        nonlocal has_token
        if has_token:
            tokens.append("".join(current))
            current.clear()
            has_token = False

    def end_property() -> None:
        end_token()
        if tokens:
            properties.setdefault(tokens[0], tokens[1:])
            tokens.clear()

    for char in title:
        if quoted:
            if char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
            has_token = True
        elif char == ";":
            end_property()
        elif char.isspace():
            end_token()
        else:
            current.append(char)
            has_token = True
    end_property()
    return properties


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _first_number(properties: dict[str, list[str]], name: str) -> float | None:
    values = properties.get(name)
    return _number(values[0]) if values else None


def _box(properties: dict[str, list[str]], name: str = "bbox") -> PixelBox | None:
    values = properties.get(name)
    if not values or len(values) < 4:
        return None
    numbers = [_number(v) for v in values[:4]]
    if any(n is None or n < 0 for n in numbers):
        return None
    x0, y0, x1, y1 = (float(n) for n in numbers if n is not None)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _clip_score(value: float | None) -> float | None:
    return None if value is None else min(max(value, 0.0), 100.0)


class _Parser(HTMLParser):
    """Builds the first `ocr_page` of a document; later pages and stray content are skipped."""

    def __init__(self, page_index: int) -> None:
        super().__init__(convert_charrefs=True)
        self.page_index = page_index
        self.page: HocrPage | None = None
        self.page_done = False
        # Each open element as (tag, role); role says which object its text belongs to.
        self.stack: list[tuple[str, str]] = []
        self.paragraph: HocrParagraph | None = None
        self.line: HocrLine | None = None
        self.word: HocrWord | None = None
        self.word_text: list[str] = []
        self.char: HocrChar | None = None
        self.char_text: list[str] = []
        self.group: list[tuple[str, float]] | None = None
        self.choice_score: float | None = None
        self.choice_text: list[str] = []

    # -- structure -----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            return
        if len(self.stack) >= _MAX_DEPTH:
            return
        role = self._open(attrs)
        self.stack.append((tag, role))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # Self-closed elements hold no text; opening and closing them keeps the bookkeeping.
        if tag in _VOID_TAGS or len(self.stack) >= _MAX_DEPTH:
            return
        role = self._open(attrs)
        self._close(role)

    def handle_endtag(self, tag: str) -> None:
        if not any(open_tag == tag for open_tag, _ in self.stack):
            return  # a stray end tag: ignore it, as browsers do
        while self.stack:
            open_tag, role = self.stack.pop()
            self._close(role)
            if open_tag == tag:
                break

    def close_all(self) -> None:
        """Close whatever the input left open."""
        while self.stack:
            _, role = self.stack.pop()
            self._close(role)

    def _open(self, attrs: list[tuple[str, str | None]]) -> str:
        values = {name: value or "" for name, value in attrs}
        classes = set(values.get("class", "").split())
        element_id = values.get("id", "")
        if self.page_done:
            return "other"
        if "ocr_page" in classes:
            if self.page is not None:
                return "other"
            props = parse_title(values.get("title", ""))
            box = _box(props)
            width = int(box[2]) if box else 0
            height = int(box[3]) if box else 0
            resolution = _first_number(props, "scan_res")
            dpi = resolution if resolution is not None and resolution > 0 else None
            self.page = HocrPage(self.page_index, width, height, dpi)
            return "page"
        if self.page is None:
            return "other"
        title = values.get("title", "")
        if "ocr_par" in classes:
            self._end_paragraph()
            self.paragraph = HocrParagraph(_box(parse_title(title)), lang=values.get("lang"))
            self.page.paragraphs.append(self.paragraph)
            return "par"
        if classes & _LINE_CLASSES:
            self._end_line()
            props = parse_title(title)
            kind = sorted(classes & _LINE_CLASSES)[0]
            self.line = HocrLine(_box(props), kind=kind, x_size=_first_number(props, "x_size"))
            self._paragraph().lines.append(self.line)
            return "line"
        if "ocrx_word" in classes:
            self._end_word()
            props = parse_title(title)
            self.word = HocrWord(
                "",
                _box(props),
                _clip_score(_first_number(props, "x_wconf")),
                lang=values.get("lang"),
            )
            self.word_text = []
            return "word"
        if self.word is None:
            return "other"
        if "ocrx_choices" in classes or element_id.startswith("lstm_choices"):
            self._end_char()
            self.group = []
            return "group"
        if element_id.startswith(("timestep", "symbol")) or "ocr_timesteps" in classes:
            return "skip"  # lstm_choice_mode=1 timesteps: not used
        props = parse_title(title)
        if element_id.startswith("choice_") or "x_confs" in props:
            if self.group is None:
                return "skip"
            self.choice_score = _clip_score(_first_number(props, "x_confs"))
            self.choice_text = []
            return "choice"
        if "ocrx_cinfo" in classes:
            self._end_char()
            self.char = HocrChar(
                "", _box(props, "x_bboxes"), _clip_score(_first_number(props, "x_conf"))
            )
            self.char_text = []
            return "char"
        return "other"

    def _close(self, role: str) -> None:
        if role == "page":
            self._end_paragraph()
            self.page_done = True
        elif role == "par":
            self._end_paragraph()
        elif role == "line":
            self._end_line()
        elif role == "word":
            self._end_word()
        elif role == "char":
            self._end_char()
        elif role == "group":
            self._end_group()
        elif role == "choice":
            self._end_choice()

    # -- text ----------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        for _, role in reversed(self.stack):
            if role == "choice":
                self.choice_text.append(data)
                return
            if role == "char":
                self.char_text.append(data)
                return
            if role == "word":
                self.word_text.append(data)
                return
            if role in ("skip", "group", "line", "par", "page"):
                return

    # -- closing objects -----------------------------------------------------------------

    def _paragraph(self) -> HocrParagraph:
        if self.paragraph is None:
            assert self.page is not None
            self.paragraph = HocrParagraph()
            self.page.paragraphs.append(self.paragraph)
        return self.paragraph

    def _line(self) -> HocrLine:
        if self.line is None:
            self.line = HocrLine()
            self._paragraph().lines.append(self.line)
        return self.line

    def _end_choice(self) -> None:
        if self.group is not None and self.choice_score is not None:
            text = "".join(self.choice_text).strip()
            if text:
                self.group.append((text, self.choice_score))
        self.choice_score = None
        self.choice_text = []

    def _end_group(self) -> None:
        self._end_choice()
        if self.group is None or self.word is None:
            self.group = None
            return
        chars = self.word.chars
        if chars and not chars[-1].synthetic and not chars[-1].choices:
            chars[-1].choices = self.group
        elif self.group:
            # No character element before this group (hocr_char_boxes off): keep the
            # choices on a stand-in character, matched to the word's text when it ends.
            chars.append(HocrChar("", choices=self.group, synthetic=True))
        self.group = None

    def _end_char(self) -> None:
        if self.char is not None and self.word is not None:
            self.char.text = "".join(self.char_text).strip()
            if self.char.text:
                self.word.chars.append(self.char)
        self.char = None
        self.char_text = []

    def _end_word(self) -> None:
        self._end_char()
        self._end_group()
        word = self.word
        self.word = None
        if word is None:
            return
        real = [c for c in word.chars if not c.synthetic]
        if real:
            word.chars = real
            word.text = "".join(c.text for c in real)
        else:
            word.text = "".join("".join(self.word_text).split())
            stand_ins = word.chars
            for char in stand_ins:
                char.text = char.choices[0][0]
            if "".join(c.text for c in stand_ins) != word.text:
                stand_ins = []  # the groups do not spell the word: their alignment is unknown
            word.chars = stand_ins
        self.word_text = []
        if word.text:
            self._line().words.append(word)

    def _end_line(self) -> None:
        self._end_word()
        self.line = None

    def _end_paragraph(self) -> None:
        self._end_line()
        self.paragraph = None


def _parse_well_formed(hocr: str, page_index: int) -> _Parser | None:
    """Tesseract writes well-formed XHTML: expat (C) drives the same handlers several times
    faster than the pure-Python HTML parser. None when the input is not well-formed XML."""
    import xml.parsers.expat

    parser = _Parser(page_index)
    expat = xml.parsers.expat.ParserCreate()
    expat.buffer_text = True  # one handle_data call per text run, as html.parser gives
    expat.StartElementHandler = lambda tag, attrs: parser.handle_starttag(
        tag.lower(), [(name.lower(), value) for name, value in attrs.items()]
    )
    expat.EndElementHandler = lambda tag: parser.handle_endtag(tag.lower())
    expat.CharacterDataHandler = parser.handle_data
    try:
        expat.Parse(hocr, True)
    except xml.parsers.expat.ExpatError:
        return None
    return parser


def parse_hocr(hocr: str | bytes, page_index: int = 0) -> HocrPage:
    """Parse the first `ocr_page` of an hOCR document into a `HocrPage` numbered `page_index`.

    Lenient and pure: malformed markup gives whatever structure could be recovered. Raises
    `InputError` (a `ValueError`) when the input holds no `ocr_page` element, `TypeError`
    when it is neither str nor bytes.
    """
    if isinstance(hocr, bytes):
        hocr = hocr.decode("utf-8", errors="replace")
    if not isinstance(hocr, str):
        raise TypeError(f"hOCR must be str or bytes, not {type(hocr).__name__}")
    parser = _parse_well_formed(hocr, page_index)
    if parser is None:  # not well-formed XML: the lenient HTML parser recovers what it can
        parser = _Parser(page_index)
        parser.feed(hocr)
        parser.close()
    parser.close_all()
    if parser.page is None:
        raise InputError(None, "not hOCR: no element of class ocr_page", "pass Tesseract's hOCR")
    page = parser.page
    # Drop lines and paragraphs that ended up without words, so consumers can rely on content.
    for paragraph in page.paragraphs:
        paragraph.lines = [line for line in paragraph.lines if line.words]
    page.paragraphs = [p for p in page.paragraphs if p.lines]
    return page
