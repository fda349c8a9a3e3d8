"""Reliability: bad uploads, interruptions, determinism and concurrency, on the real engines."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rich.console import Console

import uncertain.api as api
from tests.fuzzing import examples
from tests.messages import repeated_clauses
from uncertain import cli, exporters
from uncertain.adapters import sniff
from uncertain.document import Document
from uncertain.errors import InputError, OutputError

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
    "no_audio.mp4": "holds no audio stream",
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
    assert not repeated_clauses(message), message


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
    """One line per bad file, every readable file written, exit 1, no partial output; a pipe
    and a socket in a folder are skipped with a line each instead of blocking the batch."""
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "again").symlink_to(loop, target_is_directory=True)
    shutil.copy(SAMPLES / "clean_page.png", loop / "page.png")
    os.mkfifo(loop / "pipe.wav")
    server = _bound_socket(loop / "socket.wav")
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
    server.close()
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == len(REFUSED), result.stderr
    assert sorted(set(lines) - set(errors)) == [
        f"skipped: {loop / 'pipe.wav'}: is a named pipe (FIFO), not a regular file",
        f"skipped: {loop / 'socket.wav'}: is a socket, not a regular file",
    ]
    assert [line for line in lines if repeated_clauses(line)] == []
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


# --- Inputs that block, outputs that cannot be written --------------------------------------


def _bound_socket(path: Path) -> socket.socket:
    """A unix socket bound at `path`: a file system entry that cannot be opened as a file."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    return server


def _within(seconds: float, call: Callable[[], Any]) -> BaseException | None:
    """Run `call` in a thread; the exception it raised (None if none), or fail when it is
    still running after `seconds` (a hang)."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome[0] if outcome else pytest.fail(f"still running after {seconds} s: a hang")


@contextmanager
def _pipe_released(path: Path) -> Iterator[Path]:
    """A named pipe at `path`; afterwards a writer opens and closes it once, so that a reader
    stuck waiting for one (old code) gets end-of-file instead of blocking the test run."""
    os.mkfifo(path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):  # no reader was waiting
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


SPECIAL_FILES = ["pipe", "socket", "/dev/null", "/dev/zero", "link to a pipe"]


@pytest.mark.parametrize("function", ["read", "transcribe", "iter_transcribe", "ocr"])
@pytest.mark.parametrize("kind", SPECIAL_FILES)
def test_api_refuses_special_files_at_once(tmp_path: Path, kind: str, function: str) -> None:
    """A pipe, socket or device given to the library is refused with an `InputError` naming
    it, without waiting for a writer or reading an endless device."""
    with _pipe_released(tmp_path / "pipe.wav") as pipe:
        server = _bound_socket(tmp_path / "socket.wav")
        (tmp_path / "link.wav").symlink_to(pipe)
        path = {
            "pipe": pipe,
            "socket": tmp_path / "socket.wav",
            "link to a pipe": tmp_path / "link.wav",
        }.get(kind, Path(kind))
        error = _within(20, lambda: list(getattr(api, function)(path)))
        server.close()
    assert isinstance(error, InputError), error
    message = str(error)
    assert message.startswith(f"{path}: is a "), message
    assert "not a regular file; " in message
    assert not repeated_clauses(message), message


def _cli(*args: str, timeout: float = 120, **options: Any) -> subprocess.CompletedProcess[str]:
    options = {"stdout": subprocess.PIPE, **options}
    return subprocess.run(
        [sys.executable, "-m", "uncertain", *args],
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        env=dict(os.environ, NO_COLOR="1"),
        **options,
    )


def test_folder_with_pipe_socket_and_devices_is_walked_without_blocking(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "clean_page.png", folder / "page.png")
    with _pipe_released(folder / "pipe.wav"):
        server = _bound_socket(folder / "socket.wav")
        (folder / "zero.wav").symlink_to("/dev/zero")
        out = tmp_path / "out"
        result = _cli("transcribe", str(folder), "-f", "json", "-o", str(out), "-q", timeout=60)
        server.close()
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"skipped: {folder / 'pipe.wav'}: is a named pipe (FIFO), not a regular file",
        f"skipped: {folder / 'socket.wav'}: is a socket, not a regular file",
        f"skipped: {folder / 'zero.wav'}: is a character device, not a regular file",
    ]
    assert [p.name for p in out.iterdir()] == ["page.json"]


def test_special_files_named_are_refused_unless_allowed(tmp_path: Path) -> None:
    with _pipe_released(tmp_path / "pipe.wav") as pipe:
        server = _bound_socket(tmp_path / "socket.wav")
        out = tmp_path / "out"
        refused = _cli(
            "transcribe",
            str(pipe),
            str(tmp_path / "socket.wav"),
            "/dev/zero",
            str(SAMPLES / "clean_page.png"),
            "-f",
            "json",
            "-o",
            str(out),
            "-q",
            timeout=60,
        )
        # Allowed, but nothing writes to the pipe and /dev/zero holds no medium: both are
        # given up on quickly, the socket is still refused.
        allowed = _cli(
            "transcribe",
            str(pipe),
            "/dev/zero",
            str(tmp_path / "socket.wav"),
            "--allow-special",
            "--input-timeout",
            "1",
            "-q",
            timeout=60,
        )
        server.close()
    assert refused.returncode == 1, refused.stderr
    hint = "pass --allow-special to read from it, or - for standard input"
    assert refused.stderr.splitlines() == [
        f"error: {pipe}: is a named pipe (FIFO), not a regular file; {hint}",
        f"error: {tmp_path / 'socket.wav'}: is a socket, not a regular file; "
        "pipe its data into - instead",
        f"error: /dev/zero: is a character device, not a regular file; {hint}",
    ]
    assert [p.name for p in out.iterdir()] == ["clean_page.json"]
    assert allowed.returncode == 1, allowed.stderr
    lines = allowed.stderr.splitlines()
    assert lines[0] == (
        f"error: {tmp_path / 'socket.wav'}: is a socket, not a regular file; "
        "pipe its data into - instead"
    )
    assert lines[1] == (
        f"error: {pipe}: sent no data within 1 s; check what writes to it, "
        "or allow more with --input-timeout"
    )
    assert lines[2].startswith("error: /dev/zero: not a supported audio, video, image or PDF")
    assert len(lines) == 3


def test_allowed_pipe_is_read(tmp_path: Path) -> None:
    """A pipe read with --allow-special, its writer starting late and pausing mid-way."""
    pipe = tmp_path / "page.png"
    os.mkfifo(pipe)
    data = (SAMPLES / "clean_page.png").read_bytes()

    def writer() -> None:
        time.sleep(1.0)
        with pipe.open("wb") as stream:
            stream.write(data[:1000])
            stream.flush()
            time.sleep(0.5)
            stream.write(data[1000:])

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    out = tmp_path / "out"
    result = _cli(
        "transcribe", str(pipe), "--allow-special", "-f", "json", "-o", str(out), "-q", timeout=120
    )
    thread.join(5)
    assert result.returncode == 0, result.stderr
    doc = Document.load(out / "page.json")
    assert doc.source.path == str(pipe)
    assert "Discharge summary" in doc.text


def test_stdin_that_is_a_terminal_or_silent_is_given_up_on(tmp_path: Path) -> None:
    primary, secondary = os.openpty()
    try:
        terminal = _cli("transcribe", "-", "-q", stdin=secondary, timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert terminal.returncode == 1
    assert terminal.stderr.splitlines() == [
        "error: -: standard input is a terminal; pipe a file in: uncertain transcribe - < FILE"
    ]
    reader, writer = os.pipe()  # the writer end stays open and never writes
    try:
        silent = _cli("transcribe", "-", "-q", "--input-timeout", "1", stdin=reader, timeout=60)
    finally:
        os.close(reader)
        os.close(writer)
    assert silent.returncode == 1
    assert silent.stderr.splitlines() == [
        "error: -: sent no data within 1 s; check what writes to it, "
        "or allow more with --input-timeout"
    ]


def test_output_folder_that_cannot_be_used_is_reported_once_before_any_work(
    tmp_path: Path,
) -> None:
    a_file = tmp_path / "a file"
    a_file.write_text("not a folder\n", encoding="utf-8")
    cases = {
        "/proc/nope": "the output folder cannot be created (No such file or directory)",
        str(a_file / "out"): "the output folder cannot be created (Not a directory)",
        "/dev/full": "is not a folder",
    }
    for folder, problem in cases.items():
        # The bad input after the good one would add a line if any work were started.
        result = _cli(
            "transcribe",
            str(SAMPLES / "clean_page.png"),
            str(BAD / "truncated.wav"),
            "-f",
            "json",
            "-o",
            folder,
            "-q",
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines() == [
            f"error: {folder}: {problem}; choose another output folder"
        ]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_output_folder_not_writable_is_reported_once(tmp_path: Path) -> None:
    """Root writes everywhere, so the command runs without the capabilities that let root
    ignore file permissions (as in test_unreadable_file_is_reported)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    command = [sys.executable, "-m", "uncertain", "transcribe", str(SAMPLES / "clean_page.png")]
    command += [str(BAD / "truncated.wav"), "-f", "json", "-o", str(folder), "-q"]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: {folder}: the output folder is not writable (Permission denied); "
        "make the folder writable or choose another output folder"
    ]
    assert list(folder.iterdir()) == []


def _in_small_disk(folder: Path, fill: bool, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with `folder` on a real 4 KiB tmpfs (one page), mounted in a private mount
    namespace; standard output is what the folder holds afterwards. Skips where mount
    namespaces are not available."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    namespace = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "-rm"]
    script = 'mount -t tmpfs -o size=4k none "$0" || exit 99\n'
    if fill:
        script += 'head -c 65536 /dev/zero > "$0/fill" 2>/dev/null\n'
    script += '"$@"; status=$?; ls -A "$0"; exit $status'
    folder.mkdir()
    result = subprocess.run(
        [*namespace, "sh", "-c", script, str(folder), sys.executable, "-m", "uncertain", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, NO_COLOR="1"),
    )
    if result.returncode == 99 or result.stderr.startswith("unshare:"):
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    return result


def test_disk_full_while_writing_stops_the_batch_with_one_line(tmp_path: Path) -> None:
    """The first output fills the one page; the second cannot be written: reported once,
    no temporary file left, the third input not read at all."""
    out = tmp_path / "out"
    inputs = [SAMPLES / "jfk.wav", SAMPLES / "clean_page.png", SAMPLES / "synthetic_drug.wav"]
    result = _in_small_disk(
        out, False, "transcribe", *map(str, inputs), "-f", "text", "-o", str(out), "-q"
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"error: {out / 'clean_page.txt'}: cannot be written (No space left on device); "
        "free some disk space or choose another output folder; stopped with 1 more input unread"
    ]
    assert result.stdout.split() == ["jfk.txt"], "no half-written or temporary file"


def test_full_disk_is_reported_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _in_small_disk(
        out, True, "transcribe", str(SAMPLES / "jfk.wav"), "-f", "json", "-o", str(out), "-q"
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: {out}: the disk holding the output folder is full; "
        "free some disk space or choose another output folder"
    ]
    assert result.stdout.split() == ["fill"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_standard_output_on_a_full_disk_stops_the_batch(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = _cli("transcribe", str(SAMPLES / "jfk.wav"), str(BAD / "empty.wav"), stdout=full)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: standard output: cannot be written (No space left on device); "
        "stopped with 1 more input unread"
    ]


def test_library_writes_raise_output_error_naming_the_folder(tmp_path: Path) -> None:
    doc = Document(text="")
    with pytest.raises(OutputError) as caught:
        exporters.write(doc, "json", Path("/proc/nope"), "doc")
    assert isinstance(caught.value, OSError), "code catching OSError keeps working"
    assert str(caught.value).startswith("/proc/nope: the output folder cannot be created (")
    assert not repeated_clauses(str(caught.value))


# --- Fuzzing: folders of odd entries, and bytes through a pipe -------------------------------

ENTRIES = ["page", "notes", "empty", "pipe", "socket", "link to a pipe", "link to /dev/zero"]
ENTRIES += ["dangling link", "folder with a page"]


@hypothesis_settings(max_examples=examples(10))
@given(entries=st.lists(st.sampled_from(ENTRIES), max_size=8))
def test_fuzzed_folders_are_walked_without_blocking(entries: list[str]) -> None:
    """Any mix of files, pipes, sockets, devices and links: the walk ends, yields exactly
    the media files, and says in one line each which special files it skipped; the same
    special files named directly are refused in one line each."""
    with tempfile.TemporaryDirectory() as scratch:
        walk, elsewhere = Path(scratch) / "walk", Path(scratch) / "elsewhere"
        walk.mkdir()
        elsewhere.mkdir()
        media, special, sockets = [], [], []
        for number, entry in enumerate(entries):
            path = walk / f"{number:02d}.wav"
            if entry == "page":
                shutil.copy(SAMPLES / "clean_page.png", path)
                media.append(path)
            elif entry == "notes":
                path.write_text("notes, not media\n", encoding="utf-8")
            elif entry == "empty":
                path.touch()
            elif entry == "pipe":
                os.mkfifo(path)
                special.append(path)
            elif entry == "socket":
                sockets.append(_bound_socket(path))
                special.append(path)
            elif entry == "link to a pipe":
                os.mkfifo(elsewhere / path.name)
                path.symlink_to(elsewhere / path.name)
                special.append(path)
            elif entry == "link to /dev/zero":
                path.symlink_to("/dev/zero")
                special.append(path)
            elif entry == "dangling link":
                path.symlink_to(elsewhere / "missing.wav")
            else:
                path.mkdir()
                shutil.copy(SAMPLES / "clean_page.png", path / "page.png")
                media.append(path / "page.png")
        run = cli.Run(quiet=True, debug=False)
        buffer = io.StringIO()
        run.err = Console(file=buffer, highlight=False, soft_wrap=True)
        found: list[Path] = []
        error = _within(20, lambda: found.extend(cli.iter_inputs([walk, *special], run)))
        for server in sockets:
            server.close()
    assert error is None, error
    assert sorted(found) == sorted(media)
    lines = buffer.getvalue().splitlines()
    named = sorted(str(path) for path in special)
    for kind in ("skipped", "error"):
        reported = [line.split(": ")[1] for line in lines if line.startswith(f"{kind}: ")]
        assert sorted(reported) == named, lines
    assert len(lines) == 2 * len(special)
    assert run.failed == len(special)
    assert [line for line in lines if repeated_clauses(line)] == []


HEADS = [b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"", b"\x00" * 8]


@hypothesis_settings(max_examples=examples(10))
@given(
    head=st.sampled_from(HEADS),
    body=st.binary(max_size=3000),
    cuts=st.lists(st.integers(0, 3100), max_size=4),
    pause=st.sampled_from([0.0, 0.02]),
)
def test_fuzzed_streams_come_through_a_pipe_whole_or_refused(
    head: bytes, body: bytes, cuts: list[int], pause: float
) -> None:
    """Bytes written to a named pipe in pieces, with pauses: read back exactly, or refused
    as soon as the first 64 bytes show they are no supported medium."""
    data = head + body
    bounds = [0, *sorted(cut for cut in cuts if cut < len(data)), len(data)]
    with tempfile.TemporaryDirectory() as scratch:
        pipe = Path(scratch) / "stream"
        os.mkfifo(pipe)

        def writer() -> None:
            try:
                with pipe.open("wb") as stream:  # waits for the reader
                    for start, end in itertools.pairwise(bounds):
                        stream.write(data[start:end])
                        stream.flush()
                        time.sleep(pause)
            except BrokenPipeError:
                pass  # the reader refused the stream and went away

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        got: list[bytes] = []
        error = _within(20, lambda: got.append(cli.read_stream(pipe, 5.0)))
        thread.join(5)
    try:
        sniff(data)
        supported = True
    except InputError:
        supported = len(data) < 64  # short streams are judged later, by the reader of the bytes
    if supported:
        assert error is None and got == [data], error
    else:
        assert isinstance(error, InputError), error
        assert str(error).startswith(f"{pipe}: not a supported ")
