"""Finding and reading references: the true text (or words with boxes) for an input.

`find_reference` finds a text reference (`NAME.ref.txt` or `NAME.txt`); `find_box_reference`
a word-box reference (FUNSD `NAME.json`, SROIE `NAME.csv`), read by `load_box_reference` and
`load_line_box_reference` into a `BoxReference`, which `score_by_boxes` scores by place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from uncertain.errors import InputError


def find_reference(path: str | Path, refs_dir: str | Path | None = None) -> Path:
    """The reference text for `path`: NAME.ref.txt, else NAME.txt, in `refs_dir` or beside it."""
    file = Path(path)
    folder = Path(refs_dir) if refs_dir is not None else file.parent
    candidates = [folder / f"{file.stem}.ref.txt", folder / f"{file.stem}.txt"]
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != file.resolve():
            return candidate
    raise InputError(
        file,
        f"no reference text: neither {candidates[0]} nor {candidates[1]} exists",
        "write the true text into one of them, or pass the folder that holds it",
    )


@dataclass(frozen=True)
class BoxWord:
    """One reference word with its box (page pixels: x0, y0, x1, y1)."""

    text: str
    box: tuple[float, float, float, float]
    page: int = 0


@dataclass(frozen=True)
class BoxReference:
    """A reference given as words with boxes, scored by place instead of by text order.

    Use it where the reference's text is not in reading order (FUNSD's `NAME.txt` lists
    entities in annotation order): text alignment would count order differences as errors.
    """

    words: tuple[BoxWord, ...]
    path: str | None = None

    @property
    def text(self) -> str:
        """The reference words joined by spaces (annotation order, not reading order)."""
        return " ".join(w.text for w in self.words)


def load_box_reference(path: str | Path) -> BoxReference:
    """A FUNSD annotation (`{"form": [{"words": [{"text", "box"}, ...]}, ...]}`) as a reference.

    `InputError` naming the file when it is not one.
    """
    import json

    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        words = tuple(
            BoxWord(str(word["text"]), tuple(float(v) for v in word["box"][:4]))  # type: ignore[arg-type]
            for entity in raw["form"]
            for word in entity.get("words", [])
            if str(word.get("text", "")).strip()
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as error:
        raise InputError(
            file,
            f"is not a word-box reference ({type(error).__name__}: {error})",
            'give a FUNSD-style JSON: {"form": [{"words": [{"text", "box": [x0, y0, x1, y1]}]}]}',
        ) from None
    return BoxReference(words, str(file))


def load_line_box_reference(path: str | Path) -> BoxReference:
    """SROIE-style text lines with boxes (`x1,y1,...,x4,y4,text` per line) as a reference."""
    file = Path(path)
    words: list[BoxWord] = []
    try:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split(",", 8)
            if len(parts) < 9:
                raise ValueError(f"line {number} has no 8 corner numbers and a text")
            xs = [float(v) for v in parts[0:8:2]]
            ys = [float(v) for v in parts[1:8:2]]
            if parts[8].strip():
                words.append(BoxWord(parts[8], (min(xs), min(ys), max(xs), max(ys))))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(
            file,
            f"is not a line-box reference ({error})",
            "give one line per text line: x1,y1,x2,y2,x3,y3,x4,y4,text",
        ) from None
    return BoxReference(tuple(words), str(file))


_CORNERS = re.compile(r"^(\s*-?\d+(\.\d+)?\s*,){8}")


def find_box_reference(path: str | Path, refs_dir: str | Path | None = None) -> BoxReference | None:
    """The box reference beside `path` (or in `refs_dir`), if there is one: FUNSD word boxes
    `NAME.json`, or SROIE line boxes `NAME.csv` (`x1,y1,...,x4,y4,text` lines)."""
    file = Path(path)
    if file.suffix in (".json", ".csv"):
        return None  # a document JSON: its reference is a text or another JSON beside it
    folder = Path(refs_dir) if refs_dir is not None else file.parent
    lines = folder / f"{file.stem}.csv"
    if lines.is_file():
        try:
            first = lines.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        except OSError:
            first = ""
        if _CORNERS.match(first):
            return load_line_box_reference(lines)
    candidate = folder / f"{file.stem}.json"
    if not candidate.is_file():
        return None
    try:
        head = candidate.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return None
    if '"form"' not in head:
        return None
    return load_box_reference(candidate)
