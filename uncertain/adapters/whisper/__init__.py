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
- `prior_signals=True` scores each segment's decoded tokens a second time on the encoder output
  of silence (one decoder pass, no second encoder pass): how likely the decoder's language prior
  alone makes each word (`prior_logprob`) and how much the audio added (`audio_gain`,
  `min_token_audio_gain`); `WhisperAdapter.add_prior_signals` adds the same to a stored
  Document without the audio. Off by default: on the fit corpus they did not improve the
  calibrated confidence (uncertain/calibration/README.md).

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
`char_count`, `is_punctuation_only`, with alternatives `nbest_agreement` and
`hypothesis_count`, and with `prior_signals=True` `prior_logprob`, `audio_gain` and
`min_token_audio_gain`. Timing evidence between words (`gap_before`, `gap_after`,
`neighbour_drop`) and the recording's `recording_mean_logprob` are derived from the Document by
`uncertain.fusion.span_signals`, so stored Documents have them too.

Modules: `adapter` (`WhisperAdapter`, its run loop over windows, segments turned into spans),
`engine` (everything that reaches into faster-whisper and CTranslate2 internals, with the
list of what to check on an upgrade), `nbest` (alternatives from N-best hypotheses),
`features` (chunked log-Mel features), `vad` (voice-activity evidence), `prior` (the
language-prior signals of a word).
"""

from uncertain.adapters.whisper.adapter import ComputeType, Device, WhisperAdapter
from uncertain.adapters.whisper.adapter import _repetition as _repetition
from uncertain.adapters.whisper.engine import _probe_class as _probe_class
from uncertain.adapters.whisper.engine import window_seed as window_seed
from uncertain.adapters.whisper.features import _ChunkedFeatures as _ChunkedFeatures
from uncertain.adapters.whisper.nbest import (
    UNCERTAIN_WORD_PROBABILITY as UNCERTAIN_WORD_PROBABILITY,
)

__all__ = ["ComputeType", "Device", "WhisperAdapter"]
