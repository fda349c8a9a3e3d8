"""Reliability: bad uploads, interruptions, determinism and concurrency, on the real engines."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import uncertain.api as api
from uncertain.document import Document
from uncertain.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BAD = ROOT / "tests" / "data" / "bad"

# Every broken upload and the words its error must contain (besides the file's name).
REFUSED = {
    "empty.wav": "empty",
    "empty.png": "empty",
    "empty.pdf": "empty",
    "truncated.wav": "cannot be opened as audio",
    "truncated.flac": "no audio samples",
    "truncated.mp3": "truncated",
    "truncated.png": "truncated",
    "truncated.jpg": "runcated",
    "truncated.pdf": "not a readable PDF",
    "random.wav": "not a supported",
    "random.mp3": "not a supported",
    "random.png": "not a supported",
    "random.jpg": "not a supported",
    "text.wav": "not a supported",
    "claims_hours.wav": "truncated",
    "zero_length.wav": "no audio samples",
    "single_sample.wav": "too short",
    "bomb_60000x60000.png": "decompression-bomb",
    "encrypted.pdf": "encrypted",
    "zero_pages.pdf": "no pages",
}
# Broken pages inside a readable document: recorded on the page, the rest kept.
PAGE_ERRORS = {"missing_objects.pdf": "missing", "one_pixel.png": "too small"}
# Awkward but valid: read normally.
READABLE = ["animated.gif", *(f"names/{p.name}" for p in sorted((BAD / "names").iterdir()))]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bad_input_is_refused_with_a_clear_error(name: str) -> None:
    path = BAD / name
    with pytest.raises(InputError) as caught:
        api.read(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert REFUSED[name] in message
    assert "; " in message, "the message says what to do"
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(PAGE_ERRORS))
def test_broken_page_is_recorded_on_the_page(name: str) -> None:
    doc = api.read(BAD / name)
    errors = [page.error for page in doc.pages if page.error]
    assert errors and PAGE_ERRORS[name] in errors[0]


@pytest.mark.parametrize("name", READABLE)
def test_awkward_inputs_are_read(name: str) -> None:
    doc = api.read(BAD / name)
    assert doc.source.path == str(BAD / name)
    if name.startswith("names/"):
        assert doc.text


def test_cli_goes_through_the_whole_bad_corpus(tmp_path: Path) -> None:
    """One line per bad file, every readable file written, exit 1, no partial output."""
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "again").symlink_to(loop, target_is_directory=True)
    shutil.copy(SAMPLES / "clean_page.png", loop / "page.png")
    out = tmp_path / "out"
    files = [str(BAD / name) for name in sorted(REFUSED)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "uncertain",
            "transcribe",
            *files,
            str(BAD / "names"),
            str(loop),
            "-f",
            "json",
            "-o",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, NO_COLOR="1"),
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(REFUSED), result.stderr
    assert all(line.startswith("error: ") for line in lines)
    assert "Traceback" not in result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(
        [
            "-leading-dash.json",
            'quote\'s "double".json',
            "with space.json",
            "ünïcødé-日本.json",
            "page.json",
        ]
    )
    for path in out.iterdir():
        Document.load(path)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    """A file nobody may read. Root reads everything, so the command runs without the
    capabilities that let root ignore file permissions."""
    secret = tmp_path / "secret.png"
    shutil.copy(SAMPLES / "clean_page.png", secret)
    secret.chmod(0o000)
    command = [sys.executable, "-m", "uncertain", "transcribe", str(secret), str(tmp_path), "-q"]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    # Named directly and found again in its folder: reported each time, in one line each.
    expected = f"error: {secret}: permission denied; make the file readable"
    assert result.stderr.strip().splitlines() == [expected, expected]


def _inputs(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    names = []
    for number in range(count):
        source = SAMPLES / ("clean_page.png" if number % 2 else "synthetic_drug.wav")
        target = folder / f"item{number:02d}{source.suffix}"
        shutil.copy(source, target)
        names.append(target)
    return names


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_killed_batch_leaves_complete_outputs_and_resumes(tmp_path: Path, how: int) -> None:
    inputs = _inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "uncertain", "transcribe", str(tmp_path / "in")]
    command += ["-f", "json", "-f", "html", "-o", str(out), "-q", "--skip-existing"]
    rng = random.Random(how)
    for trial in range(2):
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(2.0, 6.0) + trial)
        process.send_signal(how)
        _, err = process.communicate(timeout=120)
        assert "Traceback" not in err
        for path in out.glob("*.json"):
            Document.load(path)  # complete, or it would not parse
        for path in out.glob("*.html"):
            assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{p.stem}{suffix}" for p in inputs for suffix in (".json", ".html")
    ), "every output present, no temporary file left behind"


def test_same_input_gives_byte_identical_json_across_processes(tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        out = tmp_path / f"run{run}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "uncertain",
                "transcribe",
                str(SAMPLES / "synthetic_drug.wav"),
                str(SAMPLES / "two_pages.pdf"),
                "-f",
                "json",
                "-o",
                str(out),
                "-q",
            ],
            check=True,
            timeout=600,
        )
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 2


def test_one_engine_from_four_threads_matches_sequential_use() -> None:
    files = [
        SAMPLES / "jfk.wav",
        SAMPLES / "synthetic_drug.wav",
        SAMPLES / "clean_page.png",
        SAMPLES / "degraded_page.jpg",
    ]
    sequential = [api.read(path).to_json() for path in files]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda path: api.read(path).to_json(), files * 2))
    assert threaded == sequential * 2


def test_documents_carry_no_wall_clock_data() -> None:
    doc = json.loads(api.read(SAMPLES / "clean_page.png").to_json())
    text = json.dumps(doc)
    assert "elapsed" not in text and "timestamp" not in text and "date" not in doc["source"]
