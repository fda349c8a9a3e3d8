"""The decoder's language prior as evidence: how much the audio, not the prior, chose a word.

tiny.en's errors are often fluent words its language prior chose over the audio. The decoded
tokens of each Whisper segment are scored a second time, teacher-forced from the start of
transcript through the segment's own tokens, on the encoder output of 30 s of silence: the
probability the decoder gives each token with no audio (the internal language model estimate
of Meng et al., arXiv 2104.05544). One decoder pass per segment, no second encoder pass (the
silence's encoder output is computed once per model).

Per word span:

- `prior_logprob`: the summed natural log-probability of the word's tokens with no audio;
- `audio_gain`: the summed log-probability of its tokens with the audio (the token
  probabilities of the span) less `prior_logprob`: low where the prior alone would have
  written the word;
- `min_token_audio_gain`: the same difference for the word's weakest token.

The prior is scored per segment (not per 30 s decoding window as the word probabilities
are), so it can be computed again from a stored Document's token texts alone
(`WhisperAdapter.add_prior_signals`): that is how the calibrators were fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PRIOR_SIGNALS = ("prior_logprob", "audio_gain", "min_token_audio_gain")
"""The span signals this module writes."""

_FLOOR = 1e-9  # probabilities below this count as this: log(0) is no evidence


def word_prior_signals(audio: Sequence[float], prior: Sequence[float]) -> dict[str, float]:
    """The prior signals of one word from its tokens' probabilities with and without audio.

    Empty (no signals) when the word has no tokens or the two lists differ in length.
    """
    if not audio or len(audio) != len(prior):
        return {}
    with_audio = [math.log(max(p, _FLOOR)) for p in audio]
    without = [math.log(max(q, _FLOOR)) for q in prior]
    return {
        "prior_logprob": sum(without),
        "audio_gain": sum(with_audio) - sum(without),
        "min_token_audio_gain": min(a - b for a, b in zip(with_audio, without, strict=True)),
    }


def segment_prior_signals(
    words: Sequence[Sequence[float]], prior: Sequence[float]
) -> list[dict[str, float]]:
    """`word_prior_signals` for each word of a segment: `words` holds each word's token
    probabilities with the audio, `prior` the segment's token probabilities without it, in
    the same order."""
    found = []
    position = 0
    for audio in words:
        found.append(word_prior_signals(audio, prior[position : position + len(audio)]))
        position += len(audio)
    return found
