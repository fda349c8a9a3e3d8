"""UncertainLoader and to_langchain against the real langchain-core, on the samples."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document as LCDocument

from uncertain.api import read
from uncertain.document import Document
from uncertain.errors import InputError
from uncertain.integrations import DOCUMENT_KEY
from uncertain.integrations.langchain import UncertainLoader, to_langchain
from uncertain.render import render


def assert_flat(metadata: dict[str, object]) -> None:
    for key, value in metadata.items():
        assert isinstance(value, (str, int, float)), (key, value)


def test_loader_reads_audio_and_images_into_langchain_documents(samples_dir: Path) -> None:
    paths = [samples_dir / "synthetic_drug.wav", samples_dir / "clean_page.png"]
    loader = UncertainLoader(paths)
    assert isinstance(loader, BaseLoader)
    docs = loader.load()
    assert [d.metadata["source"] for d in docs] == [str(p) for p in paths]
    for lc_doc, path in zip(docs, paths, strict=True):
        assert isinstance(lc_doc, LCDocument)
        assert_flat(lc_doc.metadata)
        expected = read(path)
        # The full document travels losslessly as one JSON string.
        assert Document.from_json(lc_doc.metadata[DOCUMENT_KEY]).to_json() == expected.to_json()
        assert lc_doc.page_content == render(expected, "inline")
        assert lc_doc.metadata["word_count"] == len(expected.spans)
        assert lc_doc.metadata["mark_count"] == len(expected.marks)
        # Metadata numbers are rounded to 6 decimals.
        assert lc_doc.metadata["mean_confidence"] == pytest.approx(
            expected.mean_confidence(), abs=1e-6
        )
        assert lc_doc.metadata["marked_share"] == pytest.approx(expected.marked_share(), abs=1e-6)
        assert lc_doc.metadata["media_type"] == expected.source.media_type
        assert lc_doc.metadata["engine"] == expected.source.engine
        assert lc_doc.metadata["style"] == "inline"
    audio, image = docs
    assert audio.metadata["duration"] > 0 and "page_count" not in audio.metadata
    assert image.metadata["page_count"] == 1 and "duration" not in image.metadata
    # The marked words of the drug clip show up as marks in the prompt text.
    assert "<u>" in audio.page_content


def test_style_none_gives_plain_text_and_lazy_load_is_lazy(
    samples_dir: Path, drug_doc: Document
) -> None:
    loader = UncertainLoader(str(samples_dir / "synthetic_drug.wav"), style=None)
    documents = loader.lazy_load()
    assert not isinstance(documents, list)
    (only,) = list(documents)
    assert only.page_content == drug_doc.text
    assert only.metadata["style"] == "plain"


def test_to_langchain_renders_the_chosen_style(drug_doc: Document) -> None:
    lc_doc = to_langchain(drug_doc, style="brackets", source="call-42")
    assert lc_doc.page_content == render(drug_doc, "brackets")
    assert lc_doc.metadata["source"] == "call-42"
    assert json.loads(lc_doc.metadata[DOCUMENT_KEY])["text"] == drug_doc.text


def test_bad_file_raises_by_default(samples_dir: Path, corrupt_wav: Path) -> None:
    loader = UncertainLoader([corrupt_wav, samples_dir / "jfk.wav"])
    with pytest.raises(InputError) as caught:
        loader.load()
    assert caught.value.source == str(corrupt_wav)


def test_bad_file_is_skipped_and_logged_on_request(
    samples_dir: Path, corrupt_wav: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = corrupt_wav.with_name("empty.png")
    empty.write_bytes(b"")
    loader = UncertainLoader(
        [corrupt_wav, samples_dir / "jfk.wav", empty], on_error="skip", style="plain"
    )
    with caplog.at_level(logging.WARNING, logger="uncertain.integrations"):
        docs = loader.load()
    assert [d.metadata["source"] for d in docs] == [str(samples_dir / "jfk.wav")]
    assert [path for path, _ in loader.skipped] == [corrupt_wav, empty]
    assert all(isinstance(error, InputError) for _, error in loader.skipped)
    assert str(corrupt_wav) in caplog.text and str(empty) in caplog.text


def test_bad_settings_fail_before_any_file_is_read(samples_dir: Path) -> None:
    with pytest.raises(TypeError, match="modle"):
        UncertainLoader(samples_dir / "jfk.wav", modle="base")
    with pytest.raises(ValueError, match="style"):
        UncertainLoader(samples_dir / "jfk.wav", style="fancy")
    with pytest.raises(ValueError, match="on_error"):
        UncertainLoader(samples_dir / "jfk.wav", on_error="ignore")  # type: ignore[arg-type]
