"""Fixtures for the exporter tests: hand-built documents of every kind."""

from __future__ import annotations

import pytest

from tests.exporters.docs import audio_doc, hostile_audio, hostile_image, image_doc
from uncertain.document import Document


@pytest.fixture(
    params=["audio", "audio-unfused", "image", "image-unfused", "plain-unfused"],
)
def any_doc(request: pytest.FixtureRequest) -> Document:
    """Every kind of document the exporters must cope with."""
    kind = request.param
    if kind == "audio":
        return audio_doc()
    if kind == "audio-unfused":
        return audio_doc(fused=False)
    if kind == "image":
        return image_doc()
    if kind == "image-unfused":
        return image_doc(fused=False)
    return Document(text="just some text")


@pytest.fixture(params=["audio", "image"])
def hostile_doc(request: pytest.FixtureRequest) -> Document:
    return hostile_audio() if request.param == "audio" else hostile_image()
