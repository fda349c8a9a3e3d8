"""samples/explore.ipynb runs top to bottom in a fresh kernel and shows what it says it shows;
it is committed without outputs."""

from __future__ import annotations

import ast
import base64
import html
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

KERNEL = "uncertain-tests"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec for this interpreter, found through JUPYTER_PATH: nothing is installed."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "uncertain tests", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        patch.setenv("MPLBACKEND", "Agg")
        yield KERNEL


def test_committed_notebook_has_no_outputs(samples_dir: Path) -> None:
    notebook = nbformat.read(samples_dir / "explore.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None


def test_notebook_runs_top_to_bottom(samples_dir: Path, kernel_name: str) -> None:
    notebook = nbformat.read(samples_dir / "explore.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=300,
        resources={"metadata": {"path": str(samples_dir)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]

    # 1. The document: its text, and a heat map of its words with their confidences and marks.
    reading = 'read(SAMPLES / "synthetic_drug.wav")'
    text, summary = printed(notebook, reading).splitlines()
    mean, share = match(r"mean confidence (\d\.\d\d), (\d+)% of words marked", summary).groups()
    view = shown(notebook, reading, "text/html")
    words = heat_map_words(view, text)
    assert f"{len(words)} words, {share}% marked, mean confidence {mean}" in view
    table = shown(notebook, "doc.to_pandas()", "text/html")
    for column in ("text", "confidence", "time_start", "mark_reason", "word_probability"):
        assert f"<th>{column}</th>" in table
    assert [row[0] for row in table_rows(table)] == [str(n) for n in range(len(words))]

    # 2. The marks printed are the words the heat map marks; a higher threshold marks more.
    marks = [
        match(r"(\w+) +p=(\d\.\d\d)  (.+)", line).groups()
        for line in printed(notebook, "for mark in doc.marks").splitlines()
    ]
    assert marks, "the sample is chosen for its misheard words"
    marked = [word for _, _, run in marks for word in ast.literal_eval(run).split()]
    assert marked == [word for word, _, is_marked in words if is_marked]
    thresholds = [
        match(r"threshold (\d\.\d): +(\d+)% marked  (\[.*\])", line).groups()
        for line in printed(notebook, "for threshold in").splitlines()
    ]
    assert [t for t, _, _ in thresholds] == ["0.3", "0.5", "0.7", "0.9"]
    shares = [int(s) for _, s, _ in thresholds]
    assert shares == sorted(shares)

    # 3. The calibration check over both clips, and its reliability diagram.
    report = printed(notebook, "expected_calibration_error(")
    assert report.startswith("synthetic_drug: ") and f" of {len(words)}: " in report
    counted = sum(int(n) for n in re.findall(r"^\w+: \d+ wrong of (\d+):", report, re.M))
    ece = match(r"expected calibration error over (\d+) words: (\d\.\d{3})$", report)
    assert int(ece.group(1)) == counted and 0.0 <= float(ece.group(2)) <= 1.0
    png = shown(notebook, "reliability_diagram(", "image/png")
    assert base64.b64decode(png).startswith(b"\x89PNG")

    # 4. The prompts mark the same words (the strict one those of threshold 0.9), and the chat
    # messages fence the document after the question.
    preamble, inline, brackets = printed(notebook, 'print(preamble("inline"))').split("\n\n")
    assert "<u>" in preamble
    assert html.unescape(re.sub(r"</?u\b[^>]*>", "", inline)) == text
    assert [w for run in re.findall(r"<u\b[^>]*>(.*?)</u>", inline) for w in run.split()] == marked
    strict = [w for run in re.findall(r"\[([^][]*)\?\]", brackets) for w in run.split()]
    assert strict == ast.literal_eval(thresholds[-1][2])
    messages = printed(notebook, "to_messages(doc")
    assert messages.startswith(f"--- system\n{preamble}")
    assert messages.endswith(
        f"--- user\nWhich medications does the patient take?\n\n<document>\n{inline}\n</document>"
    )

    # The scan: its eight least confident words, with their boxes.
    page = shown(notebook, 'read(SAMPLES / "degraded_page.jpg")', "text/html")
    for column in ("text", "confidence", "mark_reason", "x0", "y0"):
        assert f"<th>{column}</th>" in page
    confidences = [float(row[2]) for row in table_rows(page)]
    assert len(confidences) == 8 and confidences == sorted(confidences)


def match(pattern: str, text: str) -> re.Match[str]:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{pattern!r} not in {text!r}"
    return found


def cell(notebook: Any, source: str) -> Any:
    """The one code cell whose source contains `source`."""
    (found,) = [c for c in notebook.cells if c.cell_type == "code" and source in c.source]
    return found


def printed(notebook: Any, source: str) -> str:
    """What that cell printed to standard output."""
    outputs = cell(notebook, source).outputs
    streams = [o.text for o in outputs if o.output_type == "stream" and o.name == "stdout"]
    return "".join(streams).strip("\n")


def shown(notebook: Any, source: str, mime: str) -> str:
    """The `mime` data that cell displayed (its result or a `display` call)."""
    outputs = cell(notebook, source).outputs
    (data,) = [o.data[mime] for o in outputs if "data" in o and mime in o.data]
    return str(data)


def table_rows(frame_html: str) -> list[list[str]]:
    """A pandas table's body rows: the index, then the cells."""
    body = frame_html.split("<tbody>", 1)[1]
    return [
        re.findall(r"<t[hd]>(.*?)</t[hd]>", row)
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def heat_map_words(view: str, text: str) -> list[tuple[str, float, bool]]:
    """The heat map's words: each coloured by its confidence's tenth and titled with it, marked
    words underlined; with the text between them they spell `text`."""
    assert view.startswith('<div class="uncertain-nb">')
    body = view.split('<div class="text">', 1)[1]
    words = []
    for classes, title, word in re.findall(
        r'<span class="(w c\d(?: mk)?)" title="([^"]*)">([^<]*)</span>', body
    ):
        confidence = float(match(r"^confidence (\d\.\d\d)", html.unescape(title)).group(1))
        tenth = int(classes.split()[1][1:])
        # The title rounds to two digits; the class is the unrounded confidence's tenth.
        assert tenth / 10 - 0.005 <= confidence <= (tenth + 1) / 10 + 0.005
        is_marked = classes.endswith(" mk")
        assert is_marked == ("; marked" in title)
        words.append((html.unescape(word), confidence, is_marked))
    assert words
    assert html.unescape(re.sub(r"<[^>]+>", "", body)) == text
    return words
