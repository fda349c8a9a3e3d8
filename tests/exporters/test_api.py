"""The exporters' registry: names, suffixes, `all`, export and atomic write."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exporters.docs import audio_doc, image_doc
from uncertain.document import Document
from uncertain.errors import InputError, UsageError
from uncertain.exporters import FORMATS, expand_formats, export, formats_for_kind, write

SUFFIXES = {
    "text": ".txt",
    "json": ".json",
    "jsonl": ".jsonl",
    "md": ".md",
    "prompt": ".prompt.txt",
    "vtt": ".vtt",
    "srt": ".srt",
    "hocr": ".hocr",
    "alto": ".alto.xml",
    "html": ".html",
}


def test_names_and_suffixes() -> None:
    assert {name: f.suffix for name, f in FORMATS.items()} == SUFFIXES


def test_all_for_audio_has_subtitles_not_pages() -> None:
    names = expand_formats("all", audio_doc())
    assert "vtt" in names and "srt" in names
    assert "hocr" not in names and "alto" not in names
    assert set(names) == set(SUFFIXES) - {"hocr", "alto"}


def test_all_for_image_has_pages_not_subtitles() -> None:
    names = expand_formats("all", image_doc())
    assert set(names) == set(SUFFIXES) - {"vtt", "srt"}


def test_all_for_plain_text_has_neither() -> None:
    names = expand_formats(["all"], Document(text="hello"))
    assert set(names) == {"text", "json", "jsonl", "md", "prompt", "html"}


def test_formats_for_kind_match_all() -> None:
    assert formats_for_kind("audio") == expand_formats("all", audio_doc())
    assert formats_for_kind("video") == formats_for_kind("audio")
    assert formats_for_kind("pdf") == expand_formats("all", image_doc())
    assert formats_for_kind("image") == formats_for_kind("pdf")


def test_silent_audio_still_gets_valid_subtitles() -> None:
    doc = Document(text="", source=audio_doc().source)
    assert "vtt" in expand_formats("all", doc)
    assert export(doc, "vtt").startswith("WEBVTT\n\nSTYLE\n")
    assert export(doc, "srt") == ""


def test_lists_commas_and_duplicates() -> None:
    assert expand_formats(["json", "text,json"], audio_doc()) == ["json", "text"]
    assert expand_formats("vtt, srt", audio_doc()) == ["vtt", "srt"]


def test_unknown_format_names_the_choices() -> None:
    with pytest.raises(UsageError, match=r"unknown output format 'docx'.*choose from text"):
        expand_formats("docx", audio_doc())
    with pytest.raises(UsageError, match="unknown output format"):
        export(audio_doc(), "docx")


def test_format_that_does_not_apply_is_refused() -> None:
    with pytest.raises(InputError, match="vtt needs timed words"):
        expand_formats("vtt", image_doc())
    with pytest.raises(InputError, match="hocr needs pages"):
        expand_formats("hocr", audio_doc())
    # Asked directly, the exporters refuse too, naming the file.
    with pytest.raises(InputError, match=r"scan\.png.*subtitles need timed words"):
        export(image_doc(), "srt")
    with pytest.raises(InputError, match=r"talk\.wav.*no pages"):
        export(audio_doc(), "alto")


def test_every_applicable_format_exports_every_kind_of_document(any_doc: Document) -> None:
    for name in expand_formats("all", any_doc):
        out = export(any_doc, name)
        assert isinstance(out, str) and out.strip(), name
        assert out.endswith("\n"), name


def test_write_names_the_file_and_replaces_atomically(tmp_path: Path) -> None:
    doc = audio_doc()
    for name, suffix in SUFFIXES.items():
        if not FORMATS[name].applies(doc):
            continue
        path = write(doc, name, tmp_path / "out", "talk")
        assert path == tmp_path / "out" / f"talk{suffix}"
        assert path.read_text(encoding="utf-8") == export(doc, name)
    # Writing again replaces the file whole, leaving no temporary files behind.
    write(doc, "json", tmp_path / "out", "talk")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_json_and_jsonl_are_the_contract(any_doc: Document) -> None:
    pretty = export(any_doc, "json")
    line = export(any_doc, "jsonl")
    assert pretty == any_doc.to_json(indent=2) + "\n"
    assert line.count("\n") == 1
    assert Document.from_json(pretty) == any_doc
    assert Document.from_json(line) == any_doc


def test_prompt_uses_the_renderer() -> None:
    render = pytest.importorskip("uncertain.render")
    doc = audio_doc()
    assert export(doc, "prompt") == render.render(doc, style="inline").rstrip("\n") + "\n"
    footnotes = export(doc, "prompt", style="footnotes")
    assert footnotes.rstrip("\n") == render.render(doc, style="footnotes").rstrip("\n")
    parsed = render.parse(export(doc, "prompt").rstrip("\n"), "inline")
    assert parsed.text == doc.text
