"""The language-prior and timing signals of Whisper words, on the bundled tiny.en model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.wav import write_wav
from uncertain.adapters.audio import load_audio
from uncertain.adapters.whisper import WhisperAdapter
from uncertain.adapters.whisper.prior import PRIOR_SIGNALS, word_prior_signals
from uncertain.document import Document, Token
from uncertain.errors import UsageError
from uncertain.fusion import span_signals


@pytest.fixture(scope="module")
def adapter() -> WhisperAdapter:
    return WhisperAdapter()


@pytest.fixture(scope="module")
def jfk(adapter: WhisperAdapter, samples_dir: Path) -> Document:
    return adapter.read(samples_dir / "jfk.wav", prior_signals=True)


def test_prior_signals_on_every_word(jfk: Document) -> None:
    assert jfk.source is not None and jfk.source.settings["prior_signals"] is True
    for span in jfk.spans:
        for name in PRIOR_SIGNALS:
            assert math.isfinite(span.signals[name]), (span.text, name)
        audio = sum(math.log(max(t.probability, 1e-9)) for t in span.tokens)
        # audio_gain is the with-audio log-probability less the prior's, word by word.
        assert span.signals["audio_gain"] == pytest.approx(
            audio - span.signals["prior_logprob"], abs=1e-6
        )
        assert span.signals["prior_logprob"] <= 0.0
        if len(span.tokens) == 1:
            assert span.signals["min_token_audio_gain"] == pytest.approx(
                span.signals["audio_gain"], abs=1e-6
            )


def test_the_audio_not_the_prior_chose_most_words(jfk: Document) -> None:
    # Clear speech: the audio makes the decoded words far likelier than the prior alone does
    # (per word, in the median), and the prior alone gives them little (no decode-exact value).
    gains = [s.signals["audio_gain"] for s in jfk.spans]
    priors = [s.signals["prior_logprob"] for s in jfk.spans]
    assert float(np.median(gains)) > 1.0
    assert float(np.median(priors)) < -1.0


def test_no_prior_signals_unless_asked(adapter: WhisperAdapter, samples_dir: Path) -> None:
    document = adapter.read(samples_dir / "jfk.wav")
    assert document.source is not None and "prior_signals" not in document.source.settings
    assert not any(name in s.signals for s in document.spans for name in PRIOR_SIGNALS)


def test_stored_documents_get_the_same_prior_signals(
    adapter: WhisperAdapter, jfk: Document, samples_dir: Path
) -> None:
    # The way the calibrators were fitted: from the token texts of a stored decode, no audio.
    plain = adapter.read(samples_dir / "jfk.wav")
    assert plain.text == jfk.text
    added = adapter.add_prior_signals(Document.model_validate_json(plain.model_dump_json()))
    for again, live in zip(added.spans, jfk.spans, strict=True):
        for name in PRIOR_SIGNALS:
            assert again.signals[name] == pytest.approx(live.signals[name], abs=1e-5), name
    assert not any(name in s.signals for s in plain.spans for name in PRIOR_SIGNALS)


def test_a_token_outside_the_vocabulary_is_refused(adapter: WhisperAdapter, jfk: Document) -> None:
    first = jfk.spans[0]
    broken = first.model_copy(update={"tokens": [Token(text="\x00no such token", probability=0.5)]})
    document = jfk.model_copy(update={"spans": [broken, *jfk.spans[1:]]})
    with pytest.raises(UsageError, match="vocabulary"):
        adapter.add_prior_signals(document)


def test_word_prior_signals_arithmetic() -> None:
    found = word_prior_signals([0.5, 0.25], [0.5, 0.0])
    assert found["prior_logprob"] == pytest.approx(math.log(0.5) + math.log(1e-9))
    assert found["audio_gain"] == pytest.approx(math.log(0.25) - math.log(1e-9))
    assert found["min_token_audio_gain"] == pytest.approx(0.0)
    assert word_prior_signals([], []) == {}
    assert word_prior_signals([0.5], [0.5, 0.5]) == {}


def test_timing_signals_on_a_silence_padded_word(
    adapter: WhisperAdapter, samples_dir: Path, tmp_path: Path
) -> None:
    audio = load_audio(samples_dir / "jfk.wav")
    pause = np.zeros(3 * 16000, dtype=np.float32)
    padded = tmp_path / "padded.wav"
    write_wav(padded, np.concatenate([pause, audio, pause]))
    document = adapter.read(padded)
    rows = span_signals(document)
    assert rows
    for row in rows:
        assert row["seconds_per_char"] > 0
        assert row["gap_before"] >= 0 and row["gap_after"] >= 0
        assert math.isfinite(row["neighbour_drop"])
    # Three seconds of silence before the first word and after the last one.
    assert rows[0]["gap_before"] > 1.5
    assert rows[-1]["gap_after"] > 1.5
    # One recording-level value, the mean log word probability, on every word.
    means = {row["recording_mean_logprob"] for row in rows}
    assert len(means) == 1
    expected = np.mean(np.log([s.signals["word_probability"] for s in document.spans]))
    assert means.pop() == pytest.approx(float(expected))
