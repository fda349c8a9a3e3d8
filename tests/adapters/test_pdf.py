"""PDF input: text-layer pages as digital spans, scanned pages OCRed, bad PDFs refused."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from uncertain.adapters.pdf import iter_pdf_pages, open_pdf
from uncertain.adapters.tesseract import TesseractAdapter
from uncertain.document import Document
from uncertain.errors import InputError

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # apt-get install fonts-dejavu-core
TYPED = ["Typed line one", "Typed line two"]
SCANNED = "Scanned words here"
_PAD = bytes.fromhex(
    "28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a"
)  # the PDF standard security handler's password padding


def _scan(text: str) -> Image.Image:
    font = ImageFont.truetype(str(FONT), 60) if FONT.exists() else ImageFont.load_default(60)
    image = Image.new("L", (1275, 1650), 255)  # Letter at 150 DPI
    ImageDraw.Draw(image).text((150, 200), text, font=font, fill=0)
    return image


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def make_pdf(pages: list[list[str] | Image.Image], *, user_password: str | None = None) -> bytes:
    """A small Letter-size PDF: a list of strings is a typed page (Helvetica 12 pt from
    (72, 720) down), an image is a scanned page filling the sheet. `user_password` adds a
    40-bit RC4 Encrypt dictionary, enough for a reader to ask for the password."""
    objects: dict[int, bytes] = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    kids = []
    number = 3
    font = number
    objects[font] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    number += 1
    for page in pages:
        page_id, content_id, extra_id = number, number + 1, number + 2
        number += 3
        if isinstance(page, Image.Image):
            jpeg = io.BytesIO()
            page.save(jpeg, "JPEG", quality=85)
            objects[extra_id] = (
                b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
                b" /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
                % (page.width, page.height, len(jpeg.getvalue()))
                + jpeg.getvalue()
                + b"\nendstream"
            )
            stream = b"q 612 0 0 792 0 0 cm /Im1 Do Q"
            resources = b"<< /XObject << /Im1 %d 0 R >> >>" % extra_id
        else:
            lines = " ".join(f"({line}) Tj T*" for line in page)
            stream = f"BT /F1 12 Tf 14 TL 72 720 Td {lines} ET".encode("latin-1")
            resources = b"<< /Font << /F1 %d 0 R >> >>" % font
        objects[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources %s >>" % (content_id, resources)
        )
        kids.append(b"%d 0 R" % page_id)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    trailer = b"/Root 1 0 R"
    if user_password is not None:
        file_id = hashlib.md5(b"uncertain").digest()
        padded = (user_password.encode() + _PAD)[:32]
        owner_key = hashlib.md5(padded).digest()[:5]
        owner = _rc4(owner_key, padded)
        permissions = struct.pack("<i", -44)
        key = hashlib.md5(padded + owner + permissions + file_id).digest()[:5]
        user = _rc4(key, _PAD)
        objects[number] = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>" % (
            owner.hex().encode(),
            user.hex().encode(),
        )
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (
            number,
            file_id.hex().encode(),
            file_id.hex().encode(),
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for key_number in sorted(objects):
        offsets[key_number] = len(out)
        out += b"%d 0 obj\n" % key_number + objects[key_number] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for key_number in range(1, size):
        out += b"%010d 00000 n \n" % offsets.get(key_number, 0)
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, xref)
    return bytes(out)


@pytest.fixture(scope="module")
def adapter() -> TesseractAdapter:
    return TesseractAdapter(workers=2)


@pytest.fixture(scope="module")
def mixed(adapter: TesseractAdapter, tmp_path_factory: pytest.TempPathFactory) -> Document:
    path = tmp_path_factory.mktemp("pdf") / "mixed.pdf"
    path.write_bytes(make_pdf([TYPED, _scan(SCANNED)]))
    return adapter.read(path)


def test_text_layer_page_is_digital(mixed: Document) -> None:
    page = mixed.pages[0]
    assert page.digital and page.dpi == 300 and (page.width, page.height) == (2550, 3300)
    digital = [s for s in mixed.spans if s.box and s.box.page == 0]
    assert " ".join(s.text for s in digital) == " ".join(TYPED)
    for span in digital:
        assert span.confidence == 1.0 and span.signals == {"digital": 1.0}
    first, second = digital[0].box, digital[1].box
    assert first is not None and second is not None
    # Typed at x = 72 pt, baseline y = 720 pt: 300 px from the left, 300 px from the top
    # ("line" has no descender, so its box ends on the baseline).
    assert first.x0 == pytest.approx(300, abs=6)
    assert second.y1 == pytest.approx(300, abs=4)
    assert second.y1 - second.y0 == pytest.approx(12 * 300 / 72 * 0.75, rel=0.35)
    lines = [b for b in mixed.blocks if b.kind == "line" and b.box and b.box.page == 0]
    assert len(lines) == 2


def test_scanned_page_is_ocred(mixed: Document) -> None:
    assert not mixed.pages[1].digital
    scanned = [s for s in mixed.spans if s.box and s.box.page == 1]
    assert " ".join(s.text for s in scanned) == SCANNED
    assert all(s.confidence is None and "word_confidence" in s.signals for s in scanned)
    assert mixed.text == "\n".join(TYPED) + "\n\n" + SCANNED
    assert mixed.source.media_type == "application/pdf" and mixed.source.page_count == 2


def test_text_layer_can_be_ignored(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "typed.pdf"
    path.write_bytes(make_pdf([TYPED]))
    document = adapter.read(path, use_text_layer=False, dpi=200)
    assert not document.pages[0].digital
    assert document.pages[0].width == round(612 * 200 / 72)
    assert document.text == "\n".join(TYPED)


def test_pages_render_one_at_a_time(tmp_path: Path) -> None:
    pdf = open_pdf(make_pdf([_scan("one"), TYPED, _scan("three")]))
    try:
        pages = iter_pdf_pages(pdf, None, dpi=72)
        first = next(pages)
        assert first.image is not None and first.image.size == (612, 792)
        second = next(pages)
        assert second.text is not None and second.image is None
    finally:
        pdf.close()


def test_corrupt_pdf_is_an_input_error(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 100)
    with pytest.raises(InputError, match="not a readable PDF") as caught:
        adapter.read(path)
    assert str(path) in str(caught.value)


def test_truncated_pdf_is_an_input_error(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(make_pdf([TYPED])[:150])
    with pytest.raises(InputError, match="PDF"):
        adapter.read(path)


def test_encrypted_pdf_asks_for_a_password(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(make_pdf([TYPED], user_password="secret"))
    with pytest.raises(InputError, match="password"):
        adapter.read(path)
    with pytest.raises(InputError, match="password is wrong"):
        adapter.read(path, password="wrong")


def test_pdf_without_pages_is_an_input_error(adapter: TesseractAdapter, tmp_path: Path) -> None:
    path = tmp_path / "none.pdf"
    path.write_bytes(make_pdf([]))
    with pytest.raises(InputError, match="no pages"):
        adapter.read(path)


def test_timeout_on_a_scanned_page_keeps_the_digital_page(
    adapter: TesseractAdapter, tmp_path: Path
) -> None:
    path = tmp_path / "slow.pdf"
    path.write_bytes(make_pdf([TYPED, _scan(SCANNED)]))
    document = adapter.read(path, page_timeout=0.001)
    assert document.pages[0].error is None and document.pages[0].digital
    assert document.pages[1].error is not None and "timeout" in document.pages[1].error
    assert document.text == "\n".join(TYPED)


def test_sample_two_pages(adapter: TesseractAdapter, samples_dir: Path) -> None:
    path = samples_dir / "two_pages.pdf"
    if not path.exists():
        pytest.skip("samples/two_pages.pdf is not there")
    document = adapter.read(path)
    assert [p.digital for p in document.pages] == [True, False]
    reference = (samples_dir / "two_pages.ref.txt").read_text().split()
    words = document.text.split()
    matched = sum(1 for a, b in zip(words, reference, strict=False) if a == b)
    assert matched / len(reference) > 0.9


def test_long_pdf_is_reopened_and_keeps_every_page() -> None:
    data = make_pdf([[f"Sheet {n}"] if n % 2 else _scan(f"S{n}") for n in range(40)])
    holder = [open_pdf(data)]
    pages = iter_pdf_pages(
        holder[0],
        None,
        dpi=20,
        reopen=lambda: open_pdf(data),
        on_reopen=lambda document: holder.__setitem__(0, document),
    )
    seen = [(p.index, p.text is not None, p.error) for p in pages]
    holder[0].close()
    assert seen == [(n, n % 2 == 1, None) for n in range(40)]
    texts = [p for p in seen if p[1]]
    assert len(texts) == 20
