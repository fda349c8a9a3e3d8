"""Regenerate the synthetic samples (and copy the real ones) in this folder.

The generated files are committed, so the demo and the tests need none of the tools used
here: espeak-ng and sox (Debian packages) for speech and noise, Pillow for page images.
The real speech sample is copied from ../shared/realdata (see SOURCES.md for its license).

    python samples/make_samples.py            # regenerate everything
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
REALDATA = HERE.parent.parent / "shared" / "realdata"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"

DRUG_TEXT = "The patient takes prednisolone and metformin, prescribed by doctor Szczepanski."
PAGE_TEXT = [
    "Discharge summary",
    "",
    "Mrs. Okonkwo was admitted on 14 March with shortness of breath.",
    "She was given 40 mg of furosemide and 500 mg of metformin twice",
    "daily. Her potassium was 3.2 mmol/L on the second day, and the",
    "team at St. Bartholomew's started spironolactone 25 mg.",
    "Follow-up with Dr. Szczepanski in six weeks.",
]
PDF_TEXT = [
    "Referral letter, page one (typed, with a text layer).",
    "Patient: Ingrid Halvorsen, born 3 September 1958.",
    "Current medication: atorvastatin 20 mg, lisinopril 10 mg.",
]


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def write_ref(name: str, text: str) -> None:
    (HERE / f"{name}.ref.txt").write_text(text + "\n" if text else "", encoding="utf-8")


def make_speech() -> None:
    """Real speech, a TTS clip the default model gets wrong, noise, and reversed speech."""
    shutil.copyfile(REALDATA / "audio" / "fit" / "jfk_inaugural_1961.wav", HERE / "jfk.wav")
    reference = (REALDATA / "audio" / "fit" / "jfk_inaugural_1961.txt").read_text("utf-8").strip()
    write_ref("jfk", reference)

    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        run("espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), DRUG_TEXT)
        speech = Path(scratch) / "speech.wav"
        run("sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(speech), "pad", "0.3", "0.5")
        noise = Path(scratch) / "noise.wav"
        length = subprocess.run(
            ["soxi", "-D", str(speech)], check=True, capture_output=True, text=True
        ).stdout.strip()
        run(
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(noise),
            "synth",
            length,
            "pinknoise",
            "vol",
            "0.08",
        )
        run("sox", "-m", str(speech), str(noise), str(HERE / "synthetic_drug.wav"))
    write_ref("synthetic_drug", DRUG_TEXT)

    # Brown noise alone: there is nothing to transcribe, so any word Whisper emits is invented.
    run(
        "sox",
        "-n",
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        str(HERE / "noise.wav"),
        "synth",
        "6",
        "brownnoise",
        "vol",
        "0.4",
    )
    write_ref("noise", "")

    # Reversed speech sounds like speech but holds no words.
    source = REALDATA / "audio" / "fit" / "librispeech_dev-clean_1272-128104-0000.wav"
    run(
        "sox",
        str(source),
        "-r",
        "16000",
        "-c",
        "1",
        "-b",
        "16",
        str(HERE / "reversed_speech.wav"),
        "reverse",
    )
    write_ref("reversed_speech", "")


def render_page(lines: list[str], size: tuple[int, int] = (1275, 825)) -> Image.Image:
    """Lines of text on a white page at 150 DPI-like scale."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, 30)
    y = 70
    for line in lines:
        draw.text((80, y), line, font=font, fill=0)
        y += 52
    return page


def make_pages() -> None:
    """A clean page, the same page degraded, and a two-page PDF (text layer + scan)."""
    clean = render_page(PAGE_TEXT)
    clean.save(HERE / "clean_page.png", optimize=True)
    reference = "\n".join(line for line in PAGE_TEXT if line)
    write_ref("clean_page", reference)

    degraded = clean.rotate(1.2, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    degraded = degraded.resize((degraded.width * 2 // 3, degraded.height * 2 // 3))
    degraded = degraded.filter(ImageFilter.GaussianBlur(1.1))
    noise = Image.effect_noise(degraded.size, 40)
    degraded = Image.blend(degraded, noise, 0.25)
    degraded.convert("RGB").save(HERE / "degraded_page.jpg", quality=30)
    write_ref("degraded_page", reference)

    scan = render_page(PAGE_TEXT[2:], size=(1275, 1650)).rotate(
        0.6, resample=Image.Resampling.BICUBIC, fillcolor=255
    )
    (HERE / "two_pages.pdf").write_bytes(pdf_with_text_and_scan(PDF_TEXT, scan))
    write_ref("two_pages", "\n".join(PDF_TEXT) + "\n" + "\n".join(PAGE_TEXT[2:]))


def pdf_with_objects(objects: list[bytes]) -> bytes:
    """A well-formed PDF (header, numbered objects, cross-reference table) of these objects."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_with_text_and_scan(lines: list[str], scan: Image.Image) -> bytes:
    """A minimal two-page Letter PDF: page 1 typed text (a text layer), page 2 a JPEG scan only.

    Written by hand so that regenerating the sample needs no PDF library.
    """
    jpeg = io.BytesIO()
    scan.convert("L").save(jpeg, format="JPEG", quality=80)
    text_ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({escaped}) Tj T*")
    text_ops.append("ET")
    text_stream = "\n".join(text_ops).encode("latin-1")
    image_stream = b"q 612 0 0 792 0 0 cm /Im1 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 7 0 R >> >> >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R "
        b"/Resources << /XObject << /Im1 8 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text_stream) + text_stream + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(image_stream) + image_stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
        % (scan.width, scan.height, len(jpeg.getvalue()))
        + jpeg.getvalue()
        + b"\nendstream",
    ]
    return pdf_with_objects(objects)


if __name__ == "__main__":
    make_speech()
    make_pages()
    print("samples written to", HERE)
