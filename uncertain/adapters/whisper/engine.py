"""The coupling to faster-whisper and CTranslate2 internals, kept in this one module.

faster-whisper's public `transcribe` returns words with an averaged probability and one
reading; the evidence the adapter keeps (token probabilities, N-best hypotheses, seeded
sampling) lives inside it. This module reaches in, and is what to check when faster-whisper
or CTranslate2 is upgraded (pyproject allows any faster-whisper below 2). Everything it
relies on that is not public API:

`faster_whisper.WhisperModel`, subclassed by `_probe_class`:

- `find_alignment(tokenizer, text_tokens, encoder_output, num_frames, median_filter_width)`
  is overridden: it must call `self.model.align(...)` once, with one result per entry of
  `text_tokens` in order, and return, per segment, word entries (dicts) with `"tokens"`
  (token ids) and `"probability"`. The override replaces the token ids with `int`
  subclasses carrying their probability and the probability with a `float` subclass
  holding its entry; faster-whisper must then merge punctuation by moving those `"tokens"`
  lists between entries and pass `entry["probability"]` unchanged to `Word.probability`.
- `generate_with_fallback(encoder_output, prompt, tokenizer, options)` is overridden: it is
  called once per 30 s decoding window and returns a tuple whose item 0 is the CTranslate2
  generation result (`sequences_ids`) and item 2 the temperature it decoded at (0 for the
  beam search).
- read: `self.model` (the CTranslate2 model: replaced per call by `_EngineProxy`, so every
  `generate` and `align` call must go through it), `self.max_length`, `self.feature_extractor`
  (replaced per call by `features._ChunkedFeatures`), `self.hf_tokenizer` (the adapter
  decodes token texts with it), and the options object's `patience`, `length_penalty`,
  `repetition_penalty`, `no_repeat_ngram_size`, `suppress_blank`, `suppress_tokens`; the
  tokenizer's `eot`, `no_timestamps` and `decode` (also in `nbest`).
- `encode(features)` (the silence's encoder output, once per model and batch size) and
  `faster_whisper.tokenizer.Tokenizer(hf_tokenizer, multilingual, task=, language=)` with its
  `sot_sequence` (the start of a stored Document's segments, for `add_prior_signals`).
- a shallow `copy.copy` of a loaded model is a working model of its own whose `model`,
  `feature_extractor` and `_state` can be swapped without touching the original: the
  attributes must be read from `self` on each call, not captured at load.

`faster_whisper.feature_extractor.FeatureExtractor` (in `features`): `hop_length`, `n_fft`,
`mel_filters`, `sampling_rate`, `n_samples`, `nb_max_frames` and the call
`(waveform, padding, chunk_length)`, whose arithmetic the chunked version repeats (checked
at run time against the original, which is used when they differ).

`faster_whisper.vad.get_vad_model()` (in `vad`): a callable giving one Silero speech
probability per 512 samples of 16 kHz audio.

CTranslate2 (`ctranslate2.models.Whisper`): `generate(..., beam_size, num_hypotheses,
sampling_temperature, return_scores)` with results' `sequences_ids` and `scores`; `align`
with results' `text_token_probs`, also given an encoder output (that of 30 s of silence, from
the model's `encode`, for the prior signals: `prior_probabilities`) in place of features, with
as many batch entries as token sequences; `is_multilingual`; `ctranslate2.set_random_seed`,
which seeds the random generator of a worker thread when that thread first samples; and the
constructor
`Whisper(path, device, compute_type, intra_threads, inter_threads)`.
"""

from __future__ import annotations

import copy
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uncertain.adapters.whisper.features import _ChunkedFeatures
from uncertain.adapters.whisper.nbest import _holds_doubt
from uncertain.errors import EngineError

_ENGINE_HINT = "pip install faster-whisper"


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
            return self._sample(self.sampler, self.window_seed, args, kwargs)
        return self.real.generate(*args, **kwargs)

    def _sample(
        self, load: Callable[[], Any], seed: int, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # CTranslate2 samples with one random generator per worker thread, seeded once, when
        # that thread first samples, from the process-wide seed (random unless set). So the
        # shared model's sampling depends on everything it sampled before, in any file. A
        # window that falls back to sampling gets a model instance of its own instead, whose
        # worker thread seeds its generator from this window's seed under the lock: the same
        # audio then samples the same way in every process.
        if self._window_sampler is not None:
            return self._window_sampler.generate(*args, **kwargs)
        import ctranslate2

        with _SEED_LOCK:
            ctranslate2.set_random_seed(seed)
            self._window_sampler = load()
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


_SILENCE_FRAMES = 3000  # one 30 s decoding window of 10 ms frames
_PRIOR_BATCH = 8  # sequences per prior pass: bounds the silence outputs kept per model
_silence_lock = threading.Lock()


def _real(model: Any) -> Any:
    """The CTranslate2 model behind a call's proxy (or the model itself)."""
    return model.real if isinstance(model, _EngineProxy) else model


def _silence_output(engine: Any, batch: int) -> Any:
    """The encoder output of 30 s of silence, `batch` times over, computed once per loaded
    CTranslate2 model and batch size (a transcription call's copies share it)."""
    real = _real(engine.model)
    key = (id(real), batch)
    with _silence_lock:
        found = _SILENCE.get(key)
        if found is None:
            import numpy as np

            samples = np.zeros(_SILENCE_FRAMES * engine.feature_extractor.hop_length, np.float32)
            features = engine.feature_extractor(samples, padding=0)[:, :_SILENCE_FRAMES]
            # The model is kept beside its output, so its id cannot be reused by another.
            found = (real, engine.encode(np.repeat(features[None], batch, axis=0)))
            _SILENCE[key] = found
        return found[1]


_SILENCE: dict[tuple[int, int], tuple[Any, Any]] = {}

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

            def prior_probabilities(
                self,
                start: list[int],
                text_tokens: list[list[int]],
            ) -> list[list[float]]:
                """Each text token's probability teacher-forced after `start` and the tokens
                before it, on the encoder output of silence: what the decoder's language prior
                alone gives it. One decoder pass per batch of `_PRIOR_BATCH` sequences; the
                encoder output of silence is computed once per model and batch size."""
                found: list[list[float]] = []
                for first in range(0, len(text_tokens), _PRIOR_BATCH):
                    batch = [list(map(int, t)) for t in text_tokens[first : first + _PRIOR_BATCH]]
                    silence = _silence_output(self, len(batch))
                    # The real model, not the proxy: its record of the decode's alignment stays.
                    results = _real(self.model).align(silence, list(start), batch, _SILENCE_FRAMES)
                    found.extend([float(p) for p in r.text_token_probs] for r in results)
                return found

            def sot_sequence(self, language: str | None, task: str = "transcribe") -> list[int]:
                """The start-of-transcript tokens a decode in `language` begins with."""
                from faster_whisper.tokenizer import Tokenizer

                multilingual = bool(self.model.is_multilingual)
                tokenizer = Tokenizer(
                    self.hf_tokenizer,
                    multilingual,
                    task=task,
                    language=(language or "en") if multilingual else None,
                )
                return list(tokenizer.sot_sequence)

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


def _call_engine(
    engine: Any, alternatives: int, seed: int | None, sampler: Callable[[], Any] | None
) -> tuple[Any, _CallState]:
    """A working copy of the loaded model for one transcription call, and the call's state."""
    # A shallow copy shares the loaded CTranslate2 model, tokenizer and feature
    # extractor, but gives this call its own proxy and state: no locks needed.
    shell = copy.copy(engine)
    shell.model = _EngineProxy(engine.model, alternatives + 1 if alternatives else 0, sampler)
    shell.feature_extractor = _ChunkedFeatures(engine.feature_extractor)
    state = _CallState(hypotheses=alternatives + 1 if alternatives else 0, seed=seed)
    shell._state = state
    return shell, state
