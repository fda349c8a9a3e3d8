"""The command line on the real engines: formats, batches, errors, exit codes, resuming."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.messages import repeated_clauses
from uncertain.cli import app
from uncertain.document import Document

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BAD = ROOT / "tests" / "data" / "bad"
UNCERTAIN = [sys.executable, "-m", "uncertain"]

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_subcommands() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in (
        "transcribe",
        "render",
        "ask",
        "extract",
        "eval",
        "calibrate",
        "calibrate-fields",
        "schema",
    ):
        assert command in out


def test_schema_is_valid_json_schema() -> None:
    code, out, _ = invoke("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "Document"
    assert {"text", "spans", "marks", "source", "schema_version"} <= set(schema["properties"])
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(Document(text="").to_json()), schema)


def test_terminal_view_of_speech_without_colour() -> None:
    code, out, err = invoke("transcribe", str(SAMPLES / "synthetic_drug.wav"))
    assert code == 0, err
    # The review preset leaves "The patient" unmarked and marks the misheard rest.
    assert "The patient [?takes" in out
    assert "[?" in out  # marks become plain markers when there is no colour
    assert "words" in out  # the summary line
    assert out.count("legend: ") == 1


def test_summary_gives_expected_errors_on_real_samples() -> None:
    import uncertain
    from uncertain.exporters._common import summary

    files = [SAMPLES / "jfk.wav", SAMPLES / "two_pages.pdf"]
    code, out, err = invoke("transcribe", *map(str, files))
    assert code == 0, err
    lines = [line for line in out.splitlines() if re.match(r"\d+ words?, ", line)]
    docs = [uncertain.read(path) for path in files]
    assert lines == [summary(doc) for doc in docs]
    speech, scan = docs
    for doc in docs:
        expected = sum(1 - s.confidence for s in doc.spans if s.confidence is not None)
        assert doc.expected_errors() == pytest.approx(expected)
    # 11 s of speech: the count alone; two pages: the rate per page too.
    assert speech.expected_errors_per_page() is None
    assert speech.source.duration is not None and speech.source.duration < 60
    assert re.fullmatch(r".*, mean confidence 0\.\d\d, \d+\.\d errors expected", lines[0])
    assert scan.expected_errors_per_minute() is None and len(scan.pages) == 2
    total, per_page = scan.expected_errors(), scan.expected_errors_per_page()
    assert total is not None and per_page == pytest.approx(total / 2)
    assert lines[1].endswith(f" errors expected ({per_page:.1f} per page)")


def test_batch_view_prints_the_legend_once_after_the_last_file() -> None:
    files = [str(SAMPLES / "clean_page.png"), str(SAMPLES / "noise.wav")]
    code, out, err = invoke("transcribe", *files)
    assert code == 0, err
    lines = out.rstrip().splitlines()
    assert sum(line.startswith("legend: ") for line in lines) == 1, out
    assert lines[-1].startswith("legend: [?words|alternative 0.31] marks words not to trust")
    assert len([line for line in lines if re.match(r"\d+ words?, ", line)]) == 2  # summaries
    # With colour, the coloured legend, likewise once.
    result = runner.invoke(app, ["transcribe", *files], env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("confidence: ") == 1, result.stdout
    assert "legend: " not in result.stdout


def test_all_formats_for_audio_and_image(tmp_path: Path) -> None:
    code, _, err = invoke(
        "transcribe",
        str(SAMPLES / "jfk.wav"),
        str(SAMPLES / "clean_page.png"),
        "-f",
        "all",
        "-o",
        str(tmp_path),
        "--quiet",
    )
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    for suffix in (".txt", ".json", ".jsonl", ".md", ".prompt.txt", ".html", ".vtt", ".srt"):
        assert f"jfk{suffix}" in names
    for suffix in (".txt", ".json", ".hocr", ".alto.xml", ".html"):
        assert f"clean_page{suffix}" in names
    assert "jfk.hocr" not in names and "clean_page.vtt" not in names
    doc = Document.load(tmp_path / "jfk.json")
    assert "ask not what your country" in doc.text
    assert all(s.confidence is not None for s in doc.spans)


def test_seed_reaches_speech_and_leaves_scans_alone(tmp_path: Path) -> None:
    files = (str(SAMPLES / "jfk.wav"), str(SAMPLES / "clean_page.png"))
    code, _, err = invoke("transcribe", *files, "--seed", "5", "-f", "json", "-o", str(tmp_path))
    assert code == 0, err
    assert Document.load(tmp_path / "jfk.json").source.settings["seed"] == 5
    assert "seed" not in Document.load(tmp_path / "clean_page.json").source.settings


def test_batch_with_a_corrupt_file_goes_on_and_exits_1(tmp_path: Path) -> None:
    code, _, err = invoke(
        "transcribe",
        str(BAD / "truncated.wav"),
        str(SAMPLES / "clean_page.png"),
        str(BAD / "random.png"),
        "-f",
        "json",
        "-o",
        str(tmp_path),
        "--quiet",
    )
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2, err
    assert lines[0].startswith(f"error: {BAD / 'truncated.wav'}: ")
    assert lines[1].startswith(f"error: {BAD / 'random.png'}: ")
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean_page.json"]


def test_folder_walk_skips_references_and_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("clean_page.png", "clean_page.ref.txt", "SOURCES.md"):
        shutil.copy(SAMPLES / name, folder / name)
    out = tmp_path / "out"
    code, _, err = invoke("transcribe", str(folder), "-f", "json", "-o", str(out), "-q")
    assert code == 0, err
    written = out / "clean_page.json"
    assert written.exists()
    before = written.stat().st_mtime_ns
    code, _, err = invoke(
        "transcribe", str(folder), "-f", "json", "-o", str(out), "-q", "--skip-existing"
    )
    assert code == 0, err
    assert written.stat().st_mtime_ns == before


def test_stdin(tmp_path: Path) -> None:
    data = (SAMPLES / "clean_page.png").read_bytes()
    result = runner.invoke(
        app, ["transcribe", "-", "-f", "json", "-o", str(tmp_path), "-q"], input=data
    )
    assert result.exit_code == 0, result.stderr
    doc = Document.load(tmp_path / "stdin.json")
    assert "Discharge summary" in doc.text


def test_usage_errors_exit_2() -> None:
    code, _, err = invoke("transcribe", str(SAMPLES / "jfk.wav"), "-f", "docx")
    assert code == 2
    assert "unknown format docx" in err
    code, _, _ = invoke("transcribe", str(SAMPLES / "jfk.wav"), "--threshold", "7")
    assert code == 2


def test_render_command(tmp_path: Path) -> None:
    code, _, err = invoke(
        "transcribe", str(SAMPLES / "synthetic_drug.wav"), "-f", "json", "-o", str(tmp_path), "-q"
    )
    assert code == 0, err
    code, out, err = invoke("render", str(tmp_path / "synthetic_drug.json"), "--style", "brackets")
    assert code == 0, err
    assert "?]" in out  # the compact brackets mark: [words?]
    code, out, err = invoke(
        "render",
        str(tmp_path / "synthetic_drug.json"),
        *("--style", "inline", "--digits", "2", "--ids"),
    )
    assert code == 0, err
    assert re.search(r'<u id="[\d,-]+" p="0\.\d\d">', out), out
    code, out, err = invoke(
        "render", str(tmp_path / "synthetic_drug.json"), "--task", "List the drugs."
    )
    assert code == 0, err
    messages = json.loads(out)
    assert [m["role"] for m in messages] == ["system", "user"]
    code, _, err = invoke("render", str(BAD / "random.png"))
    assert code == 1 and "random.png" in err and "Traceback" not in err


def test_prompt_format_uses_style(tmp_path: Path) -> None:
    code, _, err = invoke(
        "transcribe",
        str(SAMPLES / "synthetic_drug.wav"),
        "-f",
        "prompt",
        "--style",
        "footnotes",
        "-o",
        str(tmp_path),
        "-q",
    )
    assert code == 0, err
    assert "[1]" in (tmp_path / "synthetic_drug.prompt.txt").read_text(encoding="utf-8")


def test_console_script_reports_without_traceback(tmp_path: Path) -> None:
    """The installed command, as a user runs it: one line per bad file, exit 1."""
    env = dict(os.environ, NO_COLOR="1")
    result = subprocess.run(
        [*UNCERTAIN, "transcribe", str(BAD / "empty.wav"), str(BAD / "text.wav"), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert "empty.wav" in lines[0] and "empty" in lines[0]
    assert "text.wav" in lines[1]
    assert "Traceback" not in result.stderr


def test_eval_on_samples(tmp_path: Path) -> None:
    diagram = tmp_path / "reliability.png"
    code, out, err = invoke(
        "eval",
        str(SAMPLES / "jfk.wav"),
        str(SAMPLES / "synthetic_drug.wav"),
        str(SAMPLES / "degraded_page.jpg"),
        "--diagram",
        str(diagram),
    )
    assert code == 0, err
    assert "documents 3" in out and "WER" in out and "AUROC" in out and "ECE" in out
    assert "silent errors per 100 words" in out
    assert diagram.read_bytes().startswith(b"\x89PNG")


def test_eval_without_reference_names_both_candidates(tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    shutil.copy(SAMPLES / "jfk.wav", clip)
    code, _, err = invoke("eval", str(clip))
    assert code == 1
    assert "clip.ref.txt" in err and "clip.txt" in err


@pytest.mark.parametrize("kind", ["logistic", "boosted"])
def test_calibrate_then_use_the_calibrator(tmp_path: Path, kind: str) -> None:
    """Fit on the samples (a logistic map, or boosted trees), then transcribe with it."""
    calibrator = tmp_path / "mine.json"
    code, out, err = invoke(
        "calibrate",
        str(SAMPLES / "jfk.wav"),
        str(SAMPLES / "synthetic_drug.wav"),
        "--kind",
        kind,
        "-o",
        str(calibrator),
    )
    assert code == 0, err
    assert "fitted on 2 files" in out
    saved = json.loads(calibrator.read_text(encoding="utf-8"))
    assert saved["kind"] == kind
    code, _, err = invoke(
        "transcribe",
        str(SAMPLES / "synthetic_drug.wav"),
        "--calibration",
        str(calibrator),
        "-f",
        "json",
        "-o",
        str(tmp_path),
        "-q",
    )
    assert code == 0, err
    doc = Document.load(tmp_path / "synthetic_drug.json")
    assert str(calibrator) in (doc.source.calibration or "")
    assert all(s.confidence is not None and 0 <= s.confidence <= 1 for s in doc.spans)


def test_calibrate_refuses_data_without_errors(tmp_path: Path) -> None:
    code, _, err = invoke(
        "calibrate", str(SAMPLES / "clean_page.png"), "-o", str(tmp_path / "c.json")
    )
    assert code == 1
    assert "needs both right and wrong words" in err
    assert not (tmp_path / "c.json").exists()


def test_same_names_never_overwrite_each_other(tmp_path: Path) -> None:
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLES / "clean_page.png", tmp_path / folder / "scan.png")
    shutil.copy(SAMPLES / "degraded_page.jpg", tmp_path / "one" / "scan.jpg")
    out = tmp_path / "out"
    code, _, err = invoke(
        "transcribe",
        str(tmp_path / "one"),
        str(tmp_path / "two"),
        "-f",
        "json",
        "-o",
        str(out),
        "-q",
    )
    assert code == 0, err
    written = sorted(p.name for p in out.iterdir())
    assert written == ["scan.jpg.json", "scan.png-2.json", "scan.png.json"]
    sources = {Document.load(out / name).source.path for name in written}
    assert len(sources) == 3


def test_folder_walk_skips_non_media_whatever_their_name(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "permission denied.txt").write_text("notes, not media\n", encoding="utf-8")
    shutil.copy(SAMPLES / "clean_page.png", folder / "page.png")
    code, _, err = invoke("transcribe", str(folder), "-f", "json", "-o", str(tmp_path / "o"), "-q")
    assert code == 0, err
    assert err.strip() == ""


def test_bad_stdin_is_reported_as_stdin_once() -> None:
    """Bytes from standard input are named `-` in the message, not `<bytes>`, and the
    message says each thing once."""
    for name in ("truncated.wav", "no_audio.mp4", "random.png"):
        result = runner.invoke(
            app, ["transcribe", "-", "-q"], input=(BAD / name).read_bytes(), env={"NO_COLOR": "1"}
        )
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: -: "), result.stderr
        assert "<bytes>" not in lines[0]
        assert not repeated_clauses(lines[0]), lines[0]
