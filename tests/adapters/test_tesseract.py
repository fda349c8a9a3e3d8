"""The Tesseract adapter against the real tesseract binary: text, spans, signals, bad input."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from uncertain.adapters.hocr import HocrChar
from uncertain.adapters.inputs import PageJob
from uncertain.adapters.tesseract import WEAK_WORD_CONFIDENCE, TesseractAdapter, char_posteriors
from uncertain.adapters.tesseract.pages import _ordered_results, _PageResult
from uncertain.document import Document, Page
from uncertain.errors import EngineError, InputError

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # apt-get install fonts-dejavu-core
LINES = ["The patient received 40 mg", "of furosemide twice daily.", "Follow up in six weeks."]
STABLE = ("word_confidence", "min_char_confidence", "mean_char_confidence")


def render(lines: list[str], size: int = 36, width: int = 1000) -> Image.Image:
    font = ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size)
    image = Image.new("L", (width, 60 + int(size * 1.6) * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((40, 30 + number * int(size * 1.6)), line, font=font, fill=0)
    return image


def degrade(image: Image.Image, seed: int = 0) -> Image.Image:
    small = image.resize((image.width // 3, image.height // 3), Image.Resampling.BILINEAR)
    blurred = np.asarray(small.filter(ImageFilter.GaussianBlur(0.9)), dtype=np.float64)
    noisy = blurred + np.random.default_rng(seed).normal(0, 28, blurred.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=30)
    return Image.open(io.BytesIO(buffer.getvalue()))


@pytest.fixture(scope="module")
def adapter() -> TesseractAdapter:
    return TesseractAdapter(workers=2)


@pytest.fixture(scope="module")
def clean(adapter: TesseractAdapter, tmp_path_factory: pytest.TempPathFactory) -> Document:
    path = tmp_path_factory.mktemp("ocr") / "clean.png"
    render(LINES).save(path, dpi=(300, 300))
    return adapter.read(path)


@pytest.fixture(scope="module")
def degraded(adapter: TesseractAdapter) -> Document:
    return adapter.read(degrade(render(LINES)))


def test_clean_page_text_and_layout(clean: Document) -> None:
    assert clean.text == "\n".join(LINES)
    assert clean.source.engine == "tesseract"
    assert clean.source.engine_version and clean.source.engine_version[0].isdigit()
    assert clean.source.model == "eng"
    assert clean.source.media_type == "image/png"
    assert clean.source.page_count == 1 and clean.source.sha256
    assert clean.source.settings["lstm_choice_mode"] == 2
    assert clean.pages[0].dpi == pytest.approx(300, abs=0.1)
    lines = [b for b in clean.blocks if b.kind == "line"]
    assert [" ".join(clean.span(i).text for i in b.span_ids) for b in lines] == LINES
    assert [b.kind for b in clean.blocks].count("paragraph") == 1


def test_spans_are_exact_slices_with_boxes_on_the_page(clean: Document) -> None:
    page = clean.pages[0]
    previous_bottom = -1.0
    for span in clean.spans:
        assert clean.text[span.start : span.end] == span.text
        assert span.confidence is None  # unfused
        assert span.box is not None and span.box.page == 0
        assert 0 <= span.box.x0 < span.box.x1 <= page.width
        assert 0 <= span.box.y0 < span.box.y1 <= page.height
    first_of_lines = [clean.span(b.span_ids[0]) for b in clean.blocks if b.kind == "line"]
    for span in first_of_lines:
        assert span.box is not None
        assert 30 <= span.box.x0 <= 60  # drawn at x=40
        assert span.box.y0 > previous_bottom
        previous_bottom = span.box.y0


def test_signals_have_stable_names_and_ranges(clean: Document) -> None:
    for span in clean.spans:
        for name in STABLE:
            assert 0.0 <= span.signals[name] <= 1.0, name
        assert span.signals["char_count"] == len(span.text)
        assert span.signals["box_height_ratio"] > 0
    numbers = [s for s in clean.spans if s.text == "40"]
    assert numbers and numbers[0].signals["is_numeric"] == 1.0
    assert clean.spans[0].signals["is_numeric"] == 0.0
    assert min(s.signals["word_confidence"] for s in clean.spans) > 0.8


def test_degraded_page_is_less_sure_and_offers_alternatives(
    clean: Document, degraded: Document
) -> None:
    def mean(document: Document, name: str) -> float:
        return float(np.mean([s.signals[name] for s in document.spans]))

    assert mean(degraded, "word_confidence") < mean(clean, "word_confidence")
    assert mean(degraded, "mean_char_confidence") < mean(clean, "mean_char_confidence")
    with_alternatives = [s for s in degraded.spans if s.alternatives]
    assert with_alternatives
    for span in with_alternatives:
        assert len(span.alternatives) <= 3
        texts = [a.text for a in span.alternatives]
        assert span.text not in texts and len(set(texts)) == len(texts)
        scores = [a.confidence for a in span.alternatives]
        assert scores == sorted(scores, reverse=True)
        assert sum(scores) <= 1.0 + 1e-9
    assert degraded.source.media_type == "image/jpeg"
    assert degraded.source.path is None and degraded.source.sha256


def test_char_posteriors_follow_the_choice_scores() -> None:
    sure = char_posteriors(HocrChar("a", choices=[("a", 95.0), ("o", 0.0)]))
    assert sure["a"] > 0.999
    torn = char_posteriors(HocrChar("l", choices=[("l", 80.0), ("1", 80.0)]))
    assert torn["l"] == pytest.approx(0.5)
    missing = char_posteriors(HocrChar("8", choices=[("$", 60.0), ("3", 40.0)]))
    assert missing["8"] == pytest.approx(missing["$"])  # not listed: tied with the best
    assert char_posteriors(HocrChar("x")) == {"x": 1.0}


def test_document_round_trips_through_json(degraded: Document) -> None:
    assert Document.from_json(degraded.to_json()) == degraded


def test_multipage_tiff_pages_in_order(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "three.tif"
    pages = [render([f"Page number {word}"], width=700) for word in ("one", "two", "three")]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    document = adapter.read(path, workers=2)
    assert document.text == "Page number one\n\nPage number two\n\nPage number three"
    assert [s.box.page for s in document.spans if s.box] == [0] * 3 + [1] * 3 + [2] * 3
    assert document.source.page_count == 3 and len(document.pages) == 3


def test_numpy_array_input(adapter: TesseractAdapter) -> None:
    array = np.asarray(render(["Numbers 123 456"], width=700))
    document = adapter.read(array)
    assert document.text == "Numbers 123 456"
    assert document.pages[0].width == array.shape[1]


def test_language_selection_with_two_languages(adapter: TesseractAdapter) -> None:
    document = adapter.read(render(["Grüße aus München"], width=800), language="eng+deu")
    assert document.source.model == "eng+deu"
    assert "München" in document.text


def test_missing_language_names_the_package(adapter: TesseractAdapter) -> None:
    with pytest.raises(EngineError, match="apt-get install tesseract-ocr-zzz"):
        adapter.read(render(["x"]), language="eng+zzz")


def test_missing_tesseract_names_the_install_command() -> None:
    missing = TesseractAdapter(tesseract_cmd="/nonexistent/tesseract")
    with pytest.raises(EngineError, match="apt-get install tesseract-ocr"):
        missing.read(render(["x"]))


def test_unknown_option_is_refused(adapter: TesseractAdapter) -> None:
    with pytest.raises(TypeError, match="colour"):
        adapter.read(render(["x"]), colour="red")


def test_dpi_out_of_range_is_a_value_error_not_an_input_error(adapter: TesseractAdapter) -> None:
    with pytest.raises(ValueError, match="dpi 5 is out of range") as caught:
        adapter.read(render(["x"]), dpi=5)
    assert not isinstance(caught.value, InputError)


def test_names_imported_from_the_module_before_it_was_a_package_still_are() -> None:
    from uncertain.adapters import tesseract
    from uncertain.adapters.inputs import OpenedInput, PageJob
    from uncertain.adapters.tesseract import pages, pool

    assert tesseract._Job is PageJob and tesseract._Input is OpenedInput
    assert tesseract._POOL is pool._POOL and tesseract._Pool is pool._Pool
    assert tesseract._ordered_results is pages._ordered_results
    assert tesseract._PageResult is pages._PageResult
    assert tesseract.MIN_IMAGE_SIDE == 8


def test_one_pixel_image_gives_an_empty_page_with_its_reason(
    adapter: TesseractAdapter, tmp_path: Path
) -> None:
    path = tmp_path / "dot.png"
    Image.new("L", (1, 1), 0).save(path)
    document = adapter.read(path)
    assert document.text == "" and document.spans == []
    assert document.pages == [
        Page(width=1, height=1, error="the image is too small to hold text (1x1 pixels)")
    ]


def test_blank_page_gives_an_empty_page(adapter: TesseractAdapter) -> None:
    document = adapter.read(Image.new("RGB", (1200, 1600), "white"))
    assert document.text == "" and document.spans == [] and document.blocks == []
    assert document.pages[0].error is None


def test_blank_page_between_pages_keeps_the_others(
    adapter: TesseractAdapter, tmp_path: Path
) -> None:
    path = tmp_path / "gap.tif"
    first, last = render(["Before the gap"], width=600), render(["After the gap"], width=600)
    first.save(path, save_all=True, append_images=[Image.new("L", (600, 400), 255), last])
    document = adapter.read(path)
    assert document.text == "Before the gap\n\nAfter the gap"
    assert len(document.pages) == 3
    assert {s.box.page for s in document.spans if s.box} == {0, 2}


def test_page_timeout_is_a_page_error(adapter: TesseractAdapter) -> None:
    document = adapter.read(render(LINES), page_timeout=0.001)
    assert document.spans == []
    assert document.pages[0].error is not None and "timeout" in document.pages[0].error


def test_empty_file_is_an_input_error(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        adapter.read(path)


def test_audio_file_is_refused(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "sound.png"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40)
    with pytest.raises(InputError, match="not an image or PDF"):
        adapter.read(path)


def test_truncated_image_is_an_input_error(adapter: TesseractAdapter, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    render(LINES).save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:2000])
    with pytest.raises(InputError, match="truncated or corrupt"):
        adapter.read(path)


def test_cross_check_adds_agreement_signals(adapter: TesseractAdapter) -> None:
    document = adapter.read(degrade(render(LINES), seed=3), cross_check=True)
    assert document.spans
    for span in document.spans:
        assert span.signals["cross_agreement"] in (0.0, 1.0)
        assert 0.0 <= span.signals["cross_word_confidence"] <= 1.0
    assert document.source.settings["cross_check"] is True


def test_ordered_results_keeps_order_and_bounds_pages_in_flight() -> None:
    drawn = 0
    done = 0
    most_waiting = 0
    lock = threading.Lock()

    def jobs() -> Iterator[PageJob]:
        nonlocal drawn, most_waiting
        for index in range(12):
            with lock:
                drawn += 1
                most_waiting = max(most_waiting, drawn - done)
            yield PageJob(index, 1, 1, None)

    def work(job: PageJob) -> _PageResult:
        time.sleep(0.002 * ((job.index * 7) % 5))  # finish out of order
        return _PageResult(Page(width=job.index + 1, height=1), None)

    results = []
    for result in _ordered_results(jobs(), work, workers=3):
        with lock:
            done += 1
        results.append(result.page.width)
    assert results == list(range(1, 13))
    assert most_waiting <= 2 * 3


def test_real_scanned_line(adapter: TesseractAdapter, realdata_dir: Path) -> None:
    from rapidfuzz.distance import Levenshtein

    path = realdata_dir / "ocr" / "fit" / "line_uw3_010002.png"
    reference = path.with_suffix(".txt").read_text().strip()
    document = adapter.read(path)
    assert Levenshtein.normalized_distance(document.text, reference) < 0.1


def test_real_fraktur_page_in_german(adapter: TesseractAdapter, realdata_dir: Path) -> None:
    path = realdata_dir / "ocr" / "fit" / "page_kant_aufklaerung_1784_0017.tif"
    document = adapter.read(path, language="deu")
    assert len(document.spans) > 50
    assert document.source.model == "deu"
    assert all(0 <= s.signals["word_confidence"] <= 1 for s in document.spans)


# -- character choices only for the words in doubt -------------------------------------------

CHOICE_SIGNALS = ("min_char_confidence", "mean_char_confidence", "reading_probability")


def _marked_ids(document: Document) -> set[int]:
    return {i for mark in document.marks for i in mark.span_ids}


def assert_weak_choices_match_the_full_pass(weak: Document, full: Document) -> None:
    """What `char_choices="weak"` must keep from the one-run-with-choices reading."""
    from uncertain.fusion import fuse

    assert weak.text == full.text
    assert [s.box for s in weak.spans] == [s.box for s in full.spans]
    assert [b.model_dump() for b in weak.blocks] == [b.model_dump() for b in full.blocks]
    fused_weak, fused_full = fuse(weak), fuse(full)
    assert [s.confidence for s in fused_weak.spans] == [s.confidence for s in fused_full.spans]
    assert _marked_ids(fused_weak) == _marked_ids(fused_full)
    for ours, theirs in zip(weak.spans, full.spans, strict=True):
        plain = {k: v for k, v in theirs.signals.items() if k not in CHOICE_SIGNALS}
        if theirs.signals["word_confidence"] >= WEAK_WORD_CONFIDENCE:
            # Not in doubt: everything but the character choices, exactly as before.
            assert ours.signals == plain, ours.text
            assert ours.alternatives == []
        else:
            assert {k: v for k, v in ours.signals.items() if k not in CHOICE_SIGNALS} == plain


@pytest.mark.parametrize("name", ["clean_page.png", "degraded_page.jpg", "two_pages.pdf"])
def test_weak_choices_keep_the_full_reading_on_samples(
    adapter: TesseractAdapter, samples_dir: Path, name: str
) -> None:
    path = samples_dir / name
    full = adapter.read(path, char_choices="all", use_text_layer=False)
    weak = adapter.read(path, char_choices="weak", use_text_layer=False)
    assert weak.source.settings["char_choices"] == "weak"
    assert_weak_choices_match_the_full_pass(weak, full)


def test_weak_words_get_their_choices_from_the_reread(
    adapter: TesseractAdapter, samples_dir: Path
) -> None:
    weak = adapter.read(samples_dir / "degraded_page.jpg", char_choices="weak")
    doubtful = [s for s in weak.spans if s.signals["word_confidence"] < WEAK_WORD_CONFIDENCE]
    assert doubtful, "the degraded sample has words in doubt"
    # Each word in doubt either read the same in its crop (and carries the choice signals)
    # or read otherwise (and that reading is its first alternative).
    for span in doubtful:
        assert "mean_char_confidence" in span.signals or span.alternatives, span.text
    assert any("mean_char_confidence" in s.signals for s in doubtful)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    ["page_tesseract_8071_093.3B.tif", "page_tesseract_phototest.tif", "line_uw3_010002.png"],
)
def test_weak_choices_keep_the_full_reading_on_real_scans(
    adapter: TesseractAdapter, realdata_dir: Path, name: str
) -> None:
    path = realdata_dir / "ocr" / "fit" / name
    full = adapter.read(path, char_choices="all")
    weak = adapter.read(path, char_choices="weak")
    assert_weak_choices_match_the_full_pass(weak, full)


def test_bundled_calibrators_read_no_character_choice_signal() -> None:
    """Choices come only for the words in doubt (`char_choices="auto"`), so a word's calibrated
    confidence must not depend on them: the bundled calibrators do not read them (a confident
    non-word can be marked, so the weak cut no longer bounds the marks)."""
    from uncertain.fusion import _bundled

    for name in ("tesseract-eng", "tesseract-eng+rapidocr"):
        assert not set(_bundled(name).feature_names) & set(CHOICE_SIGNALS), name


def test_auto_choices_read_small_pages_in_one_run(adapter: TesseractAdapter) -> None:
    small = adapter.read(render(LINES))
    assert small.source.settings["char_choices"] == "auto"
    assert all("mean_char_confidence" in s.signals for s in small.spans)
    with pytest.raises(ValueError, match="char_choices"):
        adapter.read(render(LINES), char_choices="some")


def _pooled_pids() -> set[int]:
    from uncertain.adapters.tesseract.pool import _POOL

    return {process.process.pid for process in _POOL.idle}


def test_kept_process_reads_each_page_as_a_fresh_process_does() -> None:
    import subprocess

    from uncertain.adapters.hocr import parse_hocr
    from uncertain.adapters.inputs import encode_page
    from uncertain.adapters.tesseract.binary import _Settings
    from uncertain.adapters.tesseract.pool import _run_tesseract

    settings = _Settings("tesseract", "eng", None, None, (), 60.0)
    pages = [encode_page(degrade(render(LINES), seed=seed)) for seed in range(3)]
    pooled = [_run_tesseract(settings, page, 300, None, 0) for page in pages]
    pids = _pooled_pids()
    pooled += [_run_tesseract(settings, page, 300, None, 0) for page in pages]
    assert _pooled_pids() == pids, "the same process read the pages the second time round"
    for number, page in enumerate(pages):
        fresh = subprocess.run(
            settings.arguments(300, None), input=page, capture_output=True, check=True
        )
        assert pooled[number] == pooled[number + 3] == parse_hocr(fresh.stdout, 0)


def test_a_process_that_timed_out_or_died_is_replaced(adapter: TesseractAdapter) -> None:
    import os
    import signal

    late = adapter.read(render(LINES), page_timeout=0.001)
    assert late.pages[0].error is not None
    for pid in _pooled_pids():
        os.kill(pid, signal.SIGKILL)  # an idle process that died meanwhile
    document = adapter.read(render(LINES))
    assert document.text == "\n".join(LINES) and document.pages[0].error is None


def test_bad_extra_config_is_a_page_error_naming_tesseract_s_complaint(
    adapter: TesseractAdapter,
) -> None:
    document = adapter.read(render(LINES), extra_config="--no-such-option")
    assert document.spans == []
    assert document.pages[0].error is not None
    assert document.pages[0].error.startswith("tesseract failed on this page (")


def test_idle_processes_end_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    from uncertain.adapters.inputs import encode_page
    from uncertain.adapters.tesseract import pool as kept
    from uncertain.adapters.tesseract.binary import _Settings
    from uncertain.adapters.tesseract.pool import _Pool

    monkeypatch.setattr(kept, "_IDLE_SECONDS", 0.3)
    pool = _Pool()
    arguments = tuple(_Settings("tesseract", "eng", None, None, (), 60.0).arguments(300, None))
    with pool.process(arguments) as process:
        assert b"ocr_page" in process.read(encode_page(render(LINES)), 60.0)
    assert pool.idle == [process]
    deadline = time.monotonic() + 10
    while process.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.idle == [] and process.process.poll() is not None, "ended when idle"


def test_kept_process_survives_its_folder_removed_and_follows_tessdata(
    adapter: TesseractAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from uncertain.adapters.tesseract.pool import _POOL

    adapter.read(render(LINES))
    for process in _POOL.idle:
        shutil.rmtree(process.folder)  # as a temporary-file cleaner might
    assert adapter.read(render(LINES)).text == "\n".join(LINES)
    before = _pooled_pids()
    import re
    import subprocess

    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout
    found = re.search(r'languages in "([^"]+)"', listed)  # where it reads its models from
    if found is None:
        pytest.skip("tesseract does not say where its tessdata folder is")
    tessdata = found.group(1)
    monkeypatch.setenv("TESSDATA_PREFIX", str(tessdata))
    assert adapter.read(render(LINES)).text == "\n".join(LINES)
    assert _pooled_pids() - before, "a process started with the new TESSDATA_PREFIX"


def test_page_folders_of_killed_runs_are_swept() -> None:
    import os
    import subprocess
    import sys
    import tempfile

    from uncertain.adapters.tesseract.binary import _Settings
    from uncertain.adapters.tesseract.pool import _FOLDER_PREFIX, _Pool

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{dead.pid}-"))
    (stale / "page.pnm").write_bytes(b"P5\n1 1\n255\n\x00")
    mine = Path(tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{os.getpid()}-"))
    pool = _Pool()
    arguments = tuple(_Settings("tesseract", "eng", None, None, (), 60.0).arguments(300, None))
    with pool.process(arguments):
        pass
    pool.close_all()
    assert not stale.exists(), "the folder of a process that is gone was removed"
    assert mine.exists(), "a living process's folder was kept"
    mine.rmdir()
