"""The faster-whisper adapter, against the real bundled tiny.en model."""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from faster_whisper import WhisperModel, decode_audio

from tests.wav import write_wav
from uncertain._files import sha256_file
from uncertain.adapters import Adapter
from uncertain.adapters.whisper import WhisperAdapter
from uncertain.document import Document
from uncertain.errors import EngineError, InputError, UsageError
from uncertain.models import resolve_whisper_model

STABLE = ("word_probability", "min_token_probability", "avg_logprob")
EVIDENCE = ("no_speech_probability", "compression_ratio", "repetition", "vad_speech_ratio")


@pytest.fixture(scope="module")
def adapter() -> WhisperAdapter:
    return WhisperAdapter()


@pytest.fixture(scope="module")
def plain() -> WhisperModel:
    return WhisperModel(resolve_whisper_model("tiny.en")[0], device="cpu", compute_type="int8")


@pytest.fixture(scope="module")
def clips(realdata_dir: Path) -> list[Path]:
    fit = realdata_dir / "audio" / "fit"
    found = sorted([*fit.glob("*.wav"), *fit.glob("*.flac")])
    assert len(found) >= 4
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _check_spans(document: Document) -> None:
    for span in document.spans:
        assert document.text[span.start : span.end] == span.text
        assert span.text == span.text.strip() and span.text
        assert span.confidence is None
        assert span.time is not None and span.tokens
        for name in (*STABLE, *EVIDENCE):
            assert name in span.signals, name
        assert span.signals["min_token_probability"] <= span.signals["word_probability"] + 1e-9


def test_is_an_adapter(adapter: WhisperAdapter) -> None:
    assert isinstance(adapter, Adapter)
    assert adapter.name == "whisper"
    assert adapter.kinds == frozenset({"audio", "video"})


def test_matches_plain_faster_whisper(
    adapter: WhisperAdapter, plain: WhisperModel, clips: list[Path]
) -> None:
    for clip in (clips[0], clips[3], clips[6]):
        document = adapter.read(clip)
        segments = list(plain.transcribe(str(clip), word_timestamps=True)[0])
        assert document.text == "".join(s.text for s in segments).strip(), clip.name
        words = [w for s in segments for w in (s.words or []) if w.word.strip()]
        assert [s.text for s in document.spans] == [w.word.strip() for w in words]
        for span, word in zip(document.spans, words, strict=True):
            assert span.signals["word_probability"] == pytest.approx(word.probability)
            assert span.time is not None
            assert span.time.start == pytest.approx(word.start, abs=1e-6)
            assert span.time.end == pytest.approx(word.end, abs=1e-6)
            # faster-whisper's word probability is the mean of the word's own tokens.
            assert min(t.probability for t in span.tokens) <= word.probability + 1e-6
        assert [b.time.start for b in document.blocks if b.time] == pytest.approx(
            [s.start for s in segments]
        )
        assert [b.signals["avg_logprob"] for b in document.blocks] == pytest.approx(
            [s.avg_logprob for s in segments]
        )
        _check_spans(document)


def test_source_records_how_it_was_made(adapter: WhisperAdapter, clips: list[Path]) -> None:
    import faster_whisper

    clip = clips[0]
    document = adapter.read(clip, beam_size=5)
    source = document.source
    assert source.path == str(clip)
    assert source.sha256 == sha256_file(clip)
    assert source.media_type.startswith("audio/")
    assert source.duration == pytest.approx(decode_audio(str(clip)).size / 16000)
    assert source.engine == "faster-whisper"
    assert source.engine_version == faster_whisper.__version__
    assert source.model == "whisper-tiny.en"
    assert source.settings["beam_size"] == 5
    assert source.settings["language"] == "en"
    assert Document.from_json(document.to_json()) == document


def test_bytes_and_arrays_read_like_paths(adapter: WhisperAdapter, clips: list[Path]) -> None:
    clip = clips[1]
    by_path = adapter.read(clip)
    by_bytes = adapter.read(clip.read_bytes())
    by_array = adapter.read(decode_audio(str(clip)))
    assert by_bytes.text == by_path.text == by_array.text
    assert by_bytes.source.path is None
    assert by_bytes.source.sha256 == by_path.source.sha256
    assert by_array.spans == by_path.spans


def test_tokens_make_up_the_word(adapter: WhisperAdapter, clips: list[Path]) -> None:
    document = adapter.read(clips[0])
    for span in document.spans:
        joined = "".join(t.text for t in span.tokens).strip()
        assert joined == span.text


def test_alternatives_on_a_misheard_drug_name(adapter: WhisperAdapter, samples_dir: Path) -> None:
    clip = samples_dir / "synthetic_drug.wav"
    if not clip.is_file():
        pytest.skip("samples/synthetic_drug.wav is missing")
    reference = _words((samples_dir / "synthetic_drug.ref.txt").read_text())
    plain = adapter.read(clip)
    document = adapter.read(clip, alternatives=3)
    assert document.text == plain.text  # alternatives never change the decode
    assert all(not s.alternatives for s in plain.spans)
    spoken = [_words(s.text) for s in document.spans]
    flat = [(i, w) for i, ws in enumerate(spoken) for w in ws]
    matcher = difflib.SequenceMatcher(None, [w for _, w in flat], reference, autojunk=False)
    wrong = {
        flat[k][0]
        for tag, i1, i2, _, _ in matcher.get_opcodes()
        if tag != "equal"
        for k in range(i1, i2)
    }
    assert wrong, "tiny.en read every word right; the test clip no longer tests anything"
    assert any(document.spans[i].alternatives for i in wrong)
    for span in document.spans:
        assert "nbest_agreement" in span.signals
        total = sum(a.confidence for a in span.alternatives) + span.signals["nbest_agreement"]
        assert total <= 1.0 + 1e-6
        assert all(a.text.strip() for a in span.alternatives)
        confidences = [a.confidence for a in span.alternatives]
        assert confidences == sorted(confidences, reverse=True)


def _sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def hallucination_inputs(
    tmp_path_factory: pytest.TempPathFactory, samples_dir: Path, clips: list[Path]
) -> list[Path]:
    folder = tmp_path_factory.mktemp("hallucination")
    noise = folder / "brown.wav"
    _sox("-n", "-r", "16000", "-c", "1", str(noise), "synth", "6", "brownnoise", "vol", "0.3")
    reversed_speech = folder / "reversed.wav"
    # A clip whose reversal tiny.en decodes at temperature 0 (others fall back to sampling,
    # which is slow on two cores).
    speech = next((c for c in clips if "0920" in c.name), clips[0])
    _sox(str(speech), str(reversed_speech), "reverse")
    found = [noise, reversed_speech]
    found += [
        p for p in (samples_dir / "noise.wav", samples_dir / "reversed_speech.wav") if p.is_file()
    ]
    return found


def test_hallucinations_carry_their_evidence(
    adapter: WhisperAdapter, hallucination_inputs: list[Path]
) -> None:
    emitted = 0
    for clip in hallucination_inputs:
        document = adapter.read(clip)
        _check_spans(document)
        emitted += len(document.spans)
        for span in document.spans:
            signals = span.signals
            assert 0.0 <= signals["vad_speech_ratio"] <= 1.0
            assert 0.0 <= signals["no_speech_probability"] <= 1.0
            assert signals["compression_ratio"] > 0.0
        for block in document.blocks:
            for name in EVIDENCE:
                assert name in block.signals
        if "brown" in clip.name or clip.name == "noise.wav":
            # On noise, the evidence points at a hallucination.
            for span in document.spans:
                assert (
                    span.signals["vad_speech_ratio"] < 0.5
                    or span.signals["no_speech_probability"] > 0.5
                )
    assert emitted > 0, "Whisper invented nothing; the inputs no longer test anything"


def test_repetition_signal(adapter: WhisperAdapter) -> None:
    from uncertain.adapters.whisper import _repetition

    assert _repetition(["thank", "you"], ["thank", "you"]) == 1.0
    assert _repetition(["a", "b", "c", "d"], []) == 0.0
    assert _repetition(["a", "b", "a", "b", "a", "b"], []) >= 0.5


def test_iter_transcribe_streams_the_same_document(
    adapter: WhisperAdapter, clips: list[Path]
) -> None:
    clip = clips[2]
    whole = adapter.read(clip)
    pieces = list(adapter.iter_transcribe(clip))
    assert isinstance(adapter.iter_transcribe(clip), Iterator)
    assert len(pieces) == len(whole.blocks)
    assert [s.id for p in pieces for s in p.spans] == [s.id for s in whole.spans]
    assert [s.text for p in pieces for s in p.spans] == [s.text for s in whole.spans]
    assert " ".join(p.text for p in pieces).split() == whole.text.split()
    for piece in pieces:
        assert len(piece.blocks) == 1


def test_long_audio_is_windowed_with_absolute_times(clips: list[Path]) -> None:
    pause = np.zeros(16000, dtype=np.float32)
    parts = []
    chosen = [clips[1], clips[3], clips[6]]
    for clip in chosen:
        parts += [decode_audio(str(clip)), pause]
    audio = np.concatenate(parts)
    windowed = WhisperAdapter(window=12.0)
    pieces = list(windowed.iter_transcribe(audio))
    document = windowed.read(audio)
    assert document.source.duration == pytest.approx(audio.size / 16000)
    starts = [s.time.start for s in document.spans if s.time]
    assert starts == sorted(starts)
    assert starts[-1] > 12.0  # later windows are offset to absolute time
    assert [s.text for p in pieces for s in p.spans] == [s.text for s in document.spans]
    spoken = _words(document.text)
    for clip in chosen:
        reference = _words(clip.with_suffix(".txt").read_text())
        matched = difflib.SequenceMatcher(None, spoken, reference, autojunk=False)
        assert matched.find_longest_match().size >= 3, clip.name


def test_same_results_from_four_threads(adapter: WhisperAdapter, clips: list[Path]) -> None:
    chosen = [clips[3], clips[6]]
    sequential = [adapter.read(c).to_json() for c in chosen]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = adapter.read(chosen[index % 2]).to_json()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors
    assert [results[i] for i in range(4)] == [sequential[i % 2] for i in range(4)]


def test_pass_through_options(adapter: WhisperAdapter, clips: list[Path]) -> None:
    document = adapter.read(clips[0], temperature=0.0, initial_prompt="Kennedy.", vad_filter=True)
    assert document.source.settings["vad_filter"] is True
    assert document.source.settings["temperature"] == 0.0
    assert document.spans
    _check_spans(document)


def test_batched_inference(adapter: WhisperAdapter, plain: WhisperModel, clips: list[Path]) -> None:
    from faster_whisper import BatchedInferencePipeline

    clip = clips[0]
    document = adapter.read(clip, batch_size=4)
    segments, _ = BatchedInferencePipeline(plain).transcribe(
        str(clip), batch_size=4, word_timestamps=True
    )
    assert document.text == "".join(s.text for s in segments).strip()
    _check_spans(document)


def test_unknown_option_is_a_usage_error(adapter: WhisperAdapter, clips: list[Path]) -> None:
    # A caller's mistake in arguments (a ValueError), not a bad input file.
    with pytest.raises(UsageError, match="beam_sise"):
        adapter.read(clips[0], beam_sise=3)


def test_alternatives_and_batching_conflict(adapter: WhisperAdapter, clips: list[Path]) -> None:
    with pytest.raises(UsageError, match="batch"):
        adapter.read(clips[0], alternatives=2, batch_size=4)


def test_timeout_is_an_engine_error(adapter: WhisperAdapter, clips: list[Path]) -> None:
    with pytest.raises(EngineError, match="timeout"):
        adapter.read(clips[0], timeout=0.0)


def test_bad_file_is_an_input_error(adapter: WhisperAdapter, tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all\n" * 10)
    with pytest.raises(InputError, match=r"notes\.wav"):
        adapter.read(path)


def test_missing_model_is_an_engine_error(clips: list[Path]) -> None:
    # Offline (HF_HUB_OFFLINE=1), a hub name that is not cached cannot load.
    missing = WhisperAdapter(model="uncertain-test/no-such-model")
    with pytest.raises(EngineError, match="no-such-model"):
        missing.read(clips[0])


def test_engine_failure_is_an_engine_error(
    adapter: WhisperAdapter, clips: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = adapter.load()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory (injected)")

    monkeypatch.setattr(type(engine), "generate_segments", broken)
    with pytest.raises(EngineError, match="injected"):
        adapter.read(clips[0])


def test_nbest_search_only_for_windows_in_doubt_the_beam_list_elsewhere(
    adapter: WhisperAdapter, samples_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uncertain.adapters.whisper import engine, nbest

    clip = samples_dir / "synthetic_drug.wav"  # one decoding window, with misheard words
    plain = adapter.read(clip)
    probe = engine._probe_class()
    searches: list[int] = []
    search = probe._nbest

    def counted(self: object, *args: object) -> object:
        searches.append(1)
        return search(self, *args)

    monkeypatch.setattr(probe, "_nbest", counted)
    # No word in doubt: no search at all; the decode's own beam still gives the N-best list.
    monkeypatch.setattr(nbest, "UNCERTAIN_WORD_PROBABILITY", 0.0)
    beam_only = adapter.read(clip, alternatives=3)
    assert beam_only.text == plain.text and not searches
    assert all(s.signals["hypothesis_count"] == 4 for s in beam_only.spans)
    # A window holding a word in doubt gets its own search.
    monkeypatch.setattr(nbest, "UNCERTAIN_WORD_PROBABILITY", 1.01)
    searched = adapter.read(clip, alternatives=3)
    assert searched.text == plain.text and len(searches) == 1
    added = ("nbest_agreement", "hypothesis_count")
    for ours, theirs in zip(searched.spans, plain.spans, strict=True):
        assert {k: v for k, v in ours.signals.items() if k not in added} == theirs.signals


def test_long_window_features_are_the_originals_bit_for_bit(
    plain: WhisperModel, samples_dir: Path
) -> None:
    from uncertain.adapters.whisper import _ChunkedFeatures

    speech = [decode_audio(str(samples_dir / n)) for n in ("jfk.wav", "synthetic_drug.wav")]
    audio = np.concatenate(speech * 20)[: 16000 * 150 + 1234]  # 150 s: five 30 s chunks and a bit
    chunked = _ChunkedFeatures(plain.feature_extractor)
    ours = chunked(audio)
    # What a user gets: the original extractor's features, bit for bit, whether the
    # once-per-process check found the chunked arithmetic equal on this CPU (and chunked)
    # or not (and fell back to the original).
    assert ours.dtype == np.float32 and np.array_equal(ours, plain.feature_extractor(audio))


def test_long_window_features_fall_back_to_an_extractor_that_differs(
    plain: WhisperModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from uncertain.adapters.whisper import _ChunkedFeatures

    class Shifted:  # an extractor computing something else: chunking must not be used
        def __getattr__(self, name: str) -> Any:
            return getattr(plain.feature_extractor, name)

        def __call__(self, waveform: Any, padding: int = 160, chunk_length: Any = None) -> Any:
            return plain.feature_extractor(waveform, padding, chunk_length) + 1.0

    monkeypatch.setattr(_ChunkedFeatures, "_checked", None)
    audio = np.random.default_rng(1).normal(0, 0.1, 16000 * 90).astype(np.float32)
    features = _ChunkedFeatures(Shifted())(audio)
    assert _ChunkedFeatures._checked is False
    assert np.array_equal(features, plain.feature_extractor(audio) + 1.0)


_RERUN = """
import sys
from uncertain.api import transcribe
options = dict(log_prob_threshold=0.0, temperature=[0.0, 0.5, 1.0], seed=int(sys.argv[1]))
for path in sys.argv[2:]:
    doc = transcribe(path, **options)
print(doc.model_dump_json())
"""


def _transcribe_in_a_process(seed: int, *paths: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _RERUN, str(seed), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


def test_windows_that_fall_back_to_sampling_give_the_same_json_in_every_process(
    samples_dir: Path, tmp_path: Path
) -> None:
    # A noisy clip, and a log-probability threshold no decode meets: every window falls back
    # through its temperatures, so the result rests on sampling alone.
    speech = decode_audio(str(samples_dir / "jfk.wav"))
    noisy = speech + np.random.default_rng(5).normal(0, 0.05, speech.shape).astype(np.float32)
    clip = tmp_path / "noisy.wav"
    write_wav(clip, noisy)
    first = _transcribe_in_a_process(0, clip)
    doc = Document.model_validate_json(first)
    assert doc.spans and all(s.signals["temperature"] > 0 for s in doc.spans)
    assert doc.source.settings["seed"] == 0
    # Another process, which has sampled another file first: the same bytes.
    assert _transcribe_in_a_process(0, samples_dir / "reversed_speech.wav", clip) == first


def test_seed_must_be_a_whole_number(adapter: WhisperAdapter, samples_dir: Path) -> None:
    with pytest.raises(UsageError, match="seed"):
        adapter.read(samples_dir / "jfk.wav", seed="7")  # type: ignore[arg-type]


def test_alternatives_must_be_a_whole_number(adapter: WhisperAdapter, samples_dir: Path) -> None:
    with pytest.raises(UsageError, match="alternatives must be"):
        adapter.read(samples_dir / "jfk.wav", alternatives=-1)


def test_device_and_compute_type_are_checked_when_the_adapter_is_made() -> None:
    with pytest.raises(UsageError, match=r"unknown device 'gpu'; use one of 'auto', 'cpu', 'cuda'"):
        WhisperAdapter(device="gpu")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"unknown compute_type 'int4'; use one of .*'int8'"):
        WhisperAdapter(compute_type="int4")  # type: ignore[arg-type]
    assert WhisperAdapter(device="cpu", compute_type="float32").compute_type == "float32"
