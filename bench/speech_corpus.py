"""Decode the real speech corpus once and cache every Document (with all its raw signals).

    .venv/bin/python bench/speech_corpus.py [--cache DIR] [--models tiny.en,base] [--workers 2]
                                            [--thin N] [--alternatives N] [--no-fit]

Reads `shared/corpus/speech/{fit,eval}/<condition>/` and `shared/realdata/audio/{fit,eval}/`
with the real Whisper adapter at default settings (what `uncertain.transcribe` runs), and adds
reversed speech (the corpus' clean clips played backwards: nothing in it can be a word) for the
hallucination marks. A multilingual model decodes with `language="en"`, as a cross-check's
second model does, so the same documents serve `base` alone and `tiny.en+base`.

The fit side also gets the realdata fit clips under bench/corpus.py's 29 degradation chains
(condition `augmented`, `build_augmented`), written once beside the cache, outside the
repository. They are seeded, so a rebuild is byte for byte the same, and each copy stays in its
source clip's group.

Each item is cached as `CACHE/<model>/<item id>.json` holding the item, the Document and the
seconds the decode took; `load()` reads them back. Nothing under the corpus is copied.

`--alternatives N` decodes with `read(..., alternatives=N)` instead (the N-best evidence,
`nbest_agreement` and `hypothesis_count`, in each span's signals) into `CACHE/<model>+altN/`,
the fit items first, then eval, no reversed speech: `load("tiny.en+alt3", CACHE)` reads them. It
then compares them with the default decodes under `--against` (default: the usual cache): items
whose text differs (the text must stay plain faster-whisper's; decodes that fell back
to sampling are random, so they are counted apart) and the ratio of decode seconds per condition
(the two decodes ran at different times: on a shared machine the ratio is a rough cost;
`--timing N` measures it properly, alternating both decodes on N fit items per condition in one
process).

`--no-fit` decodes the eval recordings and the reversed clips only (no fit recordings, no
augmented clips): what `speech_confidence.py` needs to report a CPU code path, e.g.
`CT2_FORCE_CPU_ISA=GENERIC ... speech_corpus.py --models tiny.en --no-fit --cache GENERIC_CACHE`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import _common
from _common import ROOT

CORPUS = _common.CORPUS / "speech"
REALDATA = _common.REALDATA / "audio"
DEFAULT_CACHE = Path(os.environ.get("UNCERTAIN_SPEECH_CACHE", _common.CACHE / "speech"))
MEDIA = (".flac", ".wav", ".mp3", ".ogg", ".m4a")
REVERSED_PER_SPLIT = 30
# The realdata fit clips under degradations (bench/corpus.py's chains), written beside the cache.
AUGMENTED = DEFAULT_CACHE.parent / "augmented"
BABBLE_TALKERS = 12  # corpus fit/clean recordings, spread over its sources, for `babble`


@dataclass
class Item:
    """One recording with its reference and where it belongs."""

    id: str
    path: str
    reference: str
    split: str  # "fit" or "eval"
    condition: str  # clean, noisy, spontaneous, accented, domain, real, reversed
    group: str  # what the bootstrap and the cross-validation resample (recording or sentence)


def group_of(stem: str) -> str:
    """NOIZEUS: the sentence (all its noises and SNRs together); otherwise the recording."""
    match = re.match(r"noizeus_(sp\d+)_", stem)
    return f"noizeus_{match.group(1)}" if match else stem


def items() -> list[Item]:
    """Every recording of the corpus and of realdata/audio, plus reversed clean speech."""
    found: list[Item] = []
    for split in ("fit", "eval"):
        for folder in sorted((CORPUS / split).iterdir()):
            for media in sorted(folder.iterdir()):
                if media.suffix.lower() not in MEDIA:
                    continue
                ref = media.with_suffix(".txt").read_text(encoding="utf-8").strip()
                found.append(
                    Item(
                        f"{split}-{folder.name}-{media.stem}",
                        str(media),
                        ref,
                        split,
                        folder.name,
                        group_of(media.stem),
                    )
                )
        for media in sorted((REALDATA / split).iterdir()):
            if media.suffix.lower() not in MEDIA:
                continue
            ref = media.with_suffix(".txt").read_text(encoding="utf-8").strip()
            found.append(
                Item(f"{split}-real-{media.stem}", str(media), ref, split, "real", media.stem)
            )
    found += augmented_items()
    for split in ("fit", "eval"):
        clean = [i for i in found if i.split == split and i.condition == "clean"]
        step = max(1, len(clean) // 60)  # every other clip of a chapter, the first 30
        for item in clean[::step][:REVERSED_PER_SPLIT]:
            name = item.id.split("-", 2)[2]
            found.append(
                Item(f"{split}-reversed-{name}", item.path, "", split, "reversed", item.group)
            )
    return found


def augmentations() -> list[str]:
    """The degradation chains applied to each realdata fit clip (bench/corpus.py's sets)."""
    from corpus import CONDITIONS, REAL_CONDITIONS

    return [c for c in CONDITIONS if c != "clean"] + REAL_CONDITIONS


def augmented_items(folder: Path = AUGMENTED) -> list[Item]:
    """Fit items for the realdata fit clips under every augmentation (condition `augmented`).

    Each keeps its source clip's group, so cross-validation folds and bootstrap resamples take
    a recording with all of its degraded copies. Only clips whose audio `build_augmented` has
    written are listed.
    """
    found = []
    for ref in sorted((REALDATA / "fit").glob("*.txt")):
        text = ref.read_text(encoding="utf-8").strip()
        for chain in augmentations():
            path = folder / f"{ref.stem}-{chain}.wav"
            if path.exists():
                found.append(
                    Item(
                        f"fit-augmented-{ref.stem}-{chain}",
                        str(path),
                        text,
                        "fit",
                        "augmented",
                        ref.stem,
                    )
                )
    return found


def build_augmented(folder: Path = AUGMENTED) -> None:
    """Write the augmented fit audio once (deterministic: seeded per output file).

    Babble is made of corpus fit/clean recordings, so no eval speaker is mixed in.
    """
    import numpy as np
    from corpus import CONDITIONS, augment, degrade_audio, seed_for, to_16k

    folder.mkdir(parents=True, exist_ok=True)
    talkers = []
    speech = [m for m in sorted((CORPUS / "fit" / "clean").iterdir()) if m.suffix.lower() in MEDIA]
    for media in speech[:: len(speech) // BABBLE_TALKERS][:BABBLE_TALKERS]:
        wav = folder / f"babble-talker-{media.stem}.wav"
        if not wav.exists():
            _written(wav, partial(to_16k, media))
        talkers.append(wav)
    for ref in sorted((REALDATA / "fit").glob("*.txt")):
        media = next(p for p in ref.parent.glob(ref.stem + ".*") if p.suffix != ".txt")
        clean = folder / f"{ref.stem}-clean.wav"
        if not clean.exists():
            _written(clean, partial(to_16k, media))
        for chain in augmentations():
            path = folder / f"{ref.stem}-{chain}.wav"
            if path.exists():
                continue
            if chain in CONDITIONS:  # bench/corpus.py's single degradations
                rng = np.random.default_rng(seed_for(path.stem))
                _written(path, partial(degrade_audio, clean, chain, rng=rng))
            else:
                seed = seed_for(path.stem)
                _written(path, partial(augment, clean, chain, seed=seed, babble=talkers))


def _written(target: Path, write: Callable[[Path], None]) -> None:
    """`write` into a temporary name beside `target`, then rename: an interrupted build leaves
    no half-written file that a later build would take as done."""
    tmp = target.with_name(target.stem + ".part.wav")
    write(tmp)
    tmp.replace(target)


_ADAPTERS: dict[str, Any] = {}


def _decode(job: tuple[dict[str, Any], str, str, int]) -> tuple[str, float]:
    raw, model, out, alternatives = job
    item = Item(**raw)
    target = Path(out)
    if target.exists():
        return item.id, 0.0
    from faster_whisper import decode_audio

    from uncertain.adapters.whisper import WhisperAdapter

    if model not in _ADAPTERS:
        _ADAPTERS[model] = WhisperAdapter(model=model, cpu_threads=1)
    options: dict[str, Any] = {}
    if not model.endswith(".en"):
        options["language"] = "en"
    if alternatives:
        options["alternatives"] = alternatives
    audio: Any = Path(item.path)
    if item.condition == "reversed":
        audio = decode_audio(item.path)[::-1].copy()
    start = time.perf_counter()
    doc = _ADAPTERS[model].read(audio, **options)
    seconds = time.perf_counter() - start
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    record = {"item": asdict(item), "seconds": seconds, "document": json.loads(doc.to_json())}
    tmp.write_text(json.dumps(record))
    tmp.replace(target)
    return item.id, seconds


def decode_all(
    model: str, cache: Path, workers: int, wanted: list[Item], alternatives: int = 0
) -> None:
    """Decode every item not yet cached, `workers` processes at a time."""
    folder = cache / (f"{model}+alt{alternatives}" if alternatives else model)
    jobs = [(asdict(i), model, str(folder / f"{i.id}.json"), alternatives) for i in wanted]
    todo = [job for job in jobs if not Path(job[2]).exists()]
    print(f"{folder.name}: {len(jobs) - len(todo)} cached, {len(todo)} to decode", flush=True)
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(_decode, todo, chunksize=2), 1):
            if done % 25 == 0:
                print(f"  {done}/{len(todo)} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"{folder.name}: done in {time.perf_counter() - start:.0f} s", flush=True)


def load(model: str, cache: Path = DEFAULT_CACHE) -> Iterator[tuple[Item, Any, float]]:
    """Cached (item, Document, decode seconds) triples of one model."""
    from uncertain.document import Document

    for path in sorted((cache / model).glob("*.json")):
        raw = json.loads(path.read_text())
        yield Item(**raw["item"]), Document.model_validate(raw["document"]), raw["seconds"]


def _sampled(doc: Any) -> bool:
    """Whether a window fell back to sampling (temperature > 0): such a decode is random, so
    two runs of plain faster-whisper can differ there too."""
    return any(span.signals.get("temperature", 0.0) > 0 for span in doc.spans)


def compare(model: str, folder: str, cache: Path, against: Path) -> int:
    """Print text differences and decode-time ratios of `cache/folder` vs `against/model`.

    Returns the number of items decoded by beam search alone in both (no sampling fallback)
    whose text differs: those must be none.
    """
    plain = {item.id: (doc, seconds) for item, doc, seconds in load(model, against)}
    by_condition: dict[tuple[str, str], list[tuple[float, float]]] = {}
    differ, sampled, random = [], 0, []
    for item, doc, seconds in load(folder, cache):
        if item.id not in plain:
            continue
        other, other_seconds = plain[item.id]
        chance = _sampled(doc) or _sampled(other)
        sampled += chance
        if doc.text != other.text:
            (random if chance else differ).append(item.id)
        if seconds > 0 and other_seconds > 0:
            by_condition.setdefault((item.split, item.condition), []).append(
                (seconds, other_seconds)
            )
    compared = sum(len(v) for v in by_condition.values())
    print(
        f"\n{folder} vs {model} ({against}): {compared} items; decoded by beam search alone "
        f"in both: {compared - sampled}, text differs in {len(differ)}; with a sampling "
        f"fallback (temperature > 0, random) in either: {sampled}, text differs in {len(random)}"
    )
    for name in differ[:20]:
        print(f"  differs: {name}")
    print("  decode seconds, this vs default (sum ratio; median per-item ratio):")
    for (split, condition), pairs in sorted(by_condition.items()):
        mine, theirs = (sum(x) for x in zip(*pairs, strict=True))
        ratios = sorted(a / b for a, b in pairs)
        print(
            f"    {split:4s} {condition:12s} {len(pairs):4d} items  {mine:7.1f} s / "
            f"{theirs:7.1f} s = {mine / theirs:.2f}x; median {ratios[len(ratios) // 2]:.2f}x"
        )
    return len(differ)


def timing(model: str, alternatives: int, wanted: list[Item], per_condition: int) -> None:
    """The cost of `alternatives`, measured in one process on the same loaded model: for
    `per_condition` fit items of each condition (spread over it), the default decode and the
    decode with alternatives alternate, the order turning each item, so drift in the load of a
    shared machine hits both alike. Prints CPU and wall time ratios per condition."""
    from faster_whisper import decode_audio

    from uncertain.adapters.whisper import WhisperAdapter

    adapter = WhisperAdapter(model=model, cpu_threads=1)
    conditions = sorted({i.condition for i in wanted})
    print(f"\ncost of alternatives={alternatives} ({model}, one thread, {per_condition} each)")
    for condition in conditions:
        pool = [i for i in wanted if i.condition == condition]
        picked = pool[:: max(1, len(pool) // per_condition)][:per_condition]
        wall = {0: 0.0, alternatives: 0.0}
        cpu = {0: 0.0, alternatives: 0.0}
        same = 0
        audio_seconds = 0.0
        for number, item in enumerate(picked):
            audio = decode_audio(item.path)
            audio_seconds += audio.size / 16000
            texts = {}
            for n in (0, alternatives) if number % 2 == 0 else (alternatives, 0):
                start, cpu_start = time.perf_counter(), time.process_time()
                texts[n] = adapter.read(audio, alternatives=n).text
                wall[n] += time.perf_counter() - start
                cpu[n] += time.process_time() - cpu_start
            same += texts[0] == texts[alternatives]
        print(
            f"  {condition:12s} {len(picked)} items, {audio_seconds:.0f} s audio: CPU "
            f"{cpu[alternatives] / cpu[0]:.2f}x, wall {wall[alternatives] / wall[0]:.2f}x "
            f"(default {cpu[0]:.1f} s CPU); same text {same}/{len(picked)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--thin", type=int, default=1, help="fit: every n-th, models after the first"
    )
    parser.add_argument(
        "--alternatives",
        type=int,
        default=0,
        help="decode with alternatives=N into CACHE/<model>+altN/ (fit, then eval; no reversed)",
    )
    parser.add_argument(
        "--timing", type=int, default=0, help="with --alternatives: time N fit items per condition"
    )
    parser.add_argument(
        "--against", type=Path, default=DEFAULT_CACHE, help="with --alternatives: default decodes"
    )
    parser.add_argument(
        "--no-fit",
        action="store_true",
        help="only the eval recordings and the reversed clips (to report a CPU code path)",
    )
    args = parser.parse_args(argv)
    if ROOT in args.cache.resolve().parents:
        parser.error("keep the decoded corpus outside the repository")
    if args.no_fit and args.alternatives:
        parser.error("--no-fit decodes the default way; drop --alternatives")
    if not args.no_fit:
        build_augmented()
    everything = items()
    print(f"{len(everything)} items", flush=True)
    if args.alternatives:
        plain = [i for i in everything if i.condition != "reversed"]
        for split in ("fit", "eval"):
            wanted = [i for i in plain if i.split == split]
            for model in args.models.split(","):
                decode_all(model, args.cache, args.workers, wanted, args.alternatives)
        for model in args.models.split(","):
            compare(model, f"{model}+alt{args.alternatives}", args.cache, args.against)
            if args.timing:
                fit = [i for i in plain if i.split == "fit"]
                timing(model, args.alternatives, fit, args.timing)
        return 0
    # Every model's eval recordings first (the benchmark), then the fit recordings (of the
    # other models every `--thin`-th: on 2 shared cores base's full fit split takes hours),
    # then reversed speech for the first (default) model, whose hallucination marks it tests.
    models = args.models.split(",")
    plain = [i for i in everything if i.condition != "reversed"]
    backwards = [i for i in everything if i.condition == "reversed"]
    for model in models:
        decode_all(model, args.cache, args.workers, [i for i in plain if i.split == "eval"])
    for number, model in enumerate(models if not args.no_fit else ()):
        fit = [i for i in plain if i.split == "fit"]
        decode_all(model, args.cache, args.workers, fit if number == 0 else fit[:: args.thin])
    decode_all(models[0], args.cache, args.workers, [i for i in backwards if i.split == "eval"])
    decode_all(models[0], args.cache, args.workers, [i for i in backwards if i.split == "fit"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
