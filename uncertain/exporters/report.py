"""The HTML report: one self-contained page per input.

The text is a heat map (background colour by confidence decile), marked words are
underlined, and a hover card gives each word's confidence, other readings and time or
box. Audio and video get a player (a relative `media_href`, or the file embedded as base64
under `embed_limit` bytes); clicking a word seeks the player to it. Images and PDF pages
are embedded as downscaled pictures with every word's box drawn in its confidence colour.
`export_fields_html` adds the fields extracted from the document beside it (see `fields`).

Safety: all text goes through `html.escape`; styles and scripts are inline and allowed by
hash in a strict Content-Security-Policy (nothing external loads); the data for the script
sits in a `<script type="application/json">` block with `<`, `>` and `&` written as JSON
escapes, so no transcript can close the block.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from uncertain.document import Document, Page
from uncertain.exporters._common import (
    fmt_conf,
    heat_class,
    marked_runs,
    run_index,
    summary,
    title_of,
)
from uncertain.exporters.fields import FIELDS_CSS, FIELDS_JS, field_data, fields_panel

__all__ = [
    "DEFAULT_EMBED_LIMIT",
    "csp",
    "export_fields_html",
    "export_html",
    "heat_css",
    "json_for_script",
    "page_image",
]

DEFAULT_EMBED_LIMIT = 16 * 1024 * 1024
"""Largest media file (bytes) embedded in the report when no `media_href` is given."""

DEFAULT_IMAGE_PX = 1600
"""Longest side, in pixels, of an embedded page image."""

_REASONS = {
    "low_confidence": "low confidence",
    "possible_hallucination": "possibly hallucinated",
    "no_speech": "probably not speech",
    "unreadable": "unreadable",
    "disagreement": "readings disagree",
}


def heat_css(scope: str = "") -> str:
    """CSS for the heat-map classes c0..c9 (red to green), cn (unfused) and mk (marked)."""
    rules = []
    for decile in range(10):
        hue = round(decile * 12)  # 0 (red) .. 108 (green)
        rules.append(
            f"{scope}.c{decile}{{background:hsl({hue} 85% 82%)}}"
            f"{scope}rect.c{decile}{{fill:hsl({hue} 85% 55%);stroke:hsl({hue} 85% 35%)}}"
        )
    rules.append(f"{scope}.cn{{background:none;border-bottom:1px dotted #888}}")
    rules.append(
        f"{scope}.mk{{text-decoration:underline wavy #b00020;text-decoration-thickness:2px;"
        "font-weight:600}"
    )
    return "\n".join(rules)


_CSS = """
:root{color-scheme:light}
body{font:16px/1.6 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;
color:#111;background:#fff}
h1{font-size:1.3rem;margin:.2rem 0}
.summary{font-weight:600;margin:.2rem 0}
.meta,.legend{color:#444;font-size:.85rem;margin:.2rem 0}
.legend span{padding:0 .3rem;margin-right:.2rem;border-radius:3px}
.text{white-space:pre-wrap;overflow-wrap:anywhere;border-top:1px solid #ddd;margin-top:1rem;
padding-top:1rem}
.w{border-radius:3px;cursor:pointer}
.w:focus,.w.hl{outline:2px solid #1a57d6}
.w.playing{outline:2px solid #000}
audio,video{width:100%;margin:.5rem 0}
.note{color:#8a4b00;font-size:.9rem}
.page{margin:1rem 0}
.page svg{width:100%;height:auto;border:1px solid #ccc;background:#fafafa}
.page rect{fill-opacity:.28;stroke-width:2;cursor:pointer}
.page rect.mk{fill-opacity:.45;stroke:#b00020;stroke-width:4;stroke-dasharray:8 4}
.page rect.cn{fill:#999;stroke:#555}
.page rect.hl{fill-opacity:.7}
.card{position:absolute;z-index:10;background:#fff;border:1px solid #999;border-radius:6px;
padding:.4rem .6rem;font-size:.85rem;box-shadow:0 2px 8px rgba(0,0,0,.25);max-width:28rem;
white-space:normal;overflow-wrap:anywhere}
.card b{display:block}
"""

_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("uncertain-data").textContent);
  var card = document.getElementById("card");
  var player = document.getElementById("player");
  function seconds(t) {
    var m = Math.floor(t / 60), s = (t - m * 60).toFixed(2);
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function line(text, bold) {
    var el = document.createElement(bold ? "b" : "div");
    el.textContent = text;
    card.appendChild(el);
  }
  function highlight(id, on) {
    var els = document.querySelectorAll('[data-i="' + id + '"]');
    for (var k = 0; k < els.length; k++) els[k].classList.toggle("hl", on);
  }
  var shown = null;
  function show(el) {
    var id = el.getAttribute("data-i"), s = data.spans[id];
    if (!s) return;
    if (shown !== null) highlight(shown, false);
    shown = id;
    highlight(id, true);
    card.textContent = "";
    line(s.text, true);
    line("confidence: " + (s.c === null ? "not fused" : s.c.toFixed(2)));
    if (s.m) line("marked: " + s.m);
    for (var k = 0; k < s.a.length; k++) {
      line("or: " + s.a[k][0] + " (" + s.a[k][1].toFixed(2) + ")");
    }
    if (s.t) line("time: " + seconds(s.t[0]) + " to " + seconds(s.t[1]));
    if (s.b) line("page " + (s.b[0] + 1) + ", box " + s.b.slice(1).join(", "));
    var r = el.getBoundingClientRect();
    card.hidden = false;
    card.style.left = Math.max(0, r.left + window.scrollX) + "px";
    card.style.top = (r.bottom + window.scrollY + 4) + "px";
  }
  function hide() {
    if (shown !== null) highlight(shown, false);
    shown = null;
    card.hidden = true;
  }
  function target(e) {
    return e.target && e.target.closest ? e.target.closest("[data-i]") : null;
  }
  document.addEventListener("mouseover", function (e) { var el = target(e); if (el) show(el); });
  document.addEventListener("mouseout", function (e) { if (target(e)) hide(); });
  document.addEventListener("focusin", function (e) { var el = target(e); if (el) show(el); });
  document.addEventListener("focusout", hide);
  function seek(el) {
    var s = data.spans[el.getAttribute("data-i")];
    if (!player || !s || !s.t) return;
    player.currentTime = s.t[0];
    var p = player.play();
    if (p && p.catch) p.catch(function () {});
  }
  document.addEventListener("click", function (e) { var el = target(e); if (el) seek(el); });
  document.addEventListener("keydown", function (e) {
    var el = target(e);
    if (el && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); seek(el); }
  });
})();
"""


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def csp(style: str, script: str) -> str:
    """A Content-Security-Policy allowing only these inline style and script texts."""
    return (
        "default-src 'none'; "
        f"style-src {_hash(style)}; "
        f"script-src {_hash(script)}; "
        "img-src data:; media-src 'self' data:; "
        "base-uri 'none'; form-action 'none'"
    )


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a `<script>` element (`<`, `>`, `&` and line separators escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for old, new in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(old, new)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _span_data(doc: Document, runs_of: dict[int, int], reasons: list[str]) -> dict[str, Any]:
    spans: dict[str, Any] = {}
    for span in doc.spans:
        run = runs_of.get(span.id)
        spans[str(span.id)] = {
            "text": span.text,
            "c": None if span.confidence is None else round(span.confidence, 4),
            "a": [[a.text, round(a.confidence, 4)] for a in span.alternatives[:5]],
            "t": None if span.time is None else [span.time.start, span.time.end],
            "b": None
            if span.box is None
            else [
                span.box.page,
                round(span.box.x0),
                round(span.box.y0),
                round(span.box.x1),
                round(span.box.y1),
            ],
            "m": None if run is None else reasons[run],
        }
    return spans


def _source_file(doc: Document, options: dict[str, Any]) -> Path | None:
    path = options.get("source_path") or doc.source.path
    if not path:
        return None
    file = Path(path)
    return file if file.is_file() else None


def _player(doc: Document, options: dict[str, Any]) -> str:
    media_type = doc.source.media_type
    tag = "video" if media_type.startswith("video/") else "audio"
    href = options.get("media_href")
    if href:
        source = str(href)
    else:
        file = _source_file(doc, options)
        limit = int(options.get("embed_limit", DEFAULT_EMBED_LIMIT))
        if file is None:
            return (
                '<p class="note">The recording is not beside this report '
                "(pass media_href to link it).</p>"
            )
        size = file.stat().st_size
        if not options.get("embed_media", True) or size > limit:
            return (
                f'<p class="note">The recording ({size} bytes) is not embedded; '
                "pass media_href to link it.</p>"
            )
        if "/" not in media_type or media_type == "application/octet-stream":
            media_type = mimetypes.guess_type(file.name)[0] or "audio/wav"
        encoded = base64.b64encode(file.read_bytes()).decode("ascii")
        source = f"data:{media_type};base64,{encoded}"
    return f'<{tag} id="player" controls preload="metadata" src="{html.escape(source)}"></{tag}>'


def page_image(
    doc: Document, number: int, *, source: Path | None = None, max_px: int = DEFAULT_IMAGE_PX
) -> tuple[str, bytes] | None:
    """A downscaled picture of page `number` as (mime type, bytes), or None when unavailable.

    Images are read with Pillow (one frame per page), PDF pages rendered with pypdfium2.
    Never raises: a report without pictures is better than no report.
    """
    file = source or (Path(doc.source.path) if doc.source.path else None)
    if file is None or not file.is_file():
        return None
    try:
        from PIL import Image

        page = doc.pages[number]
        if doc.source.media_type == "application/pdf" or file.suffix.lower() == ".pdf":
            import pypdfium2

            pdf = pypdfium2.PdfDocument(str(file))
            try:
                pdf_page = pdf[number]
                width_pt = pdf_page.get_width()
                scale = min(max_px, max(page.width, page.height, 1)) / max(
                    width_pt, pdf_page.get_height(), 1.0
                )
                picture = pdf_page.render(scale=scale).to_pil()
            finally:
                pdf.close()
        else:
            with Image.open(file) as opened:
                opened.seek(number)
                picture = opened.copy()
        picture.thumbnail((max_px, max_px))
        buffer = io.BytesIO()
        if picture.mode == "1":
            picture.save(buffer, "PNG", optimize=True)
            return "image/png", buffer.getvalue()
        picture.convert("RGB").save(buffer, "JPEG", quality=80, optimize=True)
        return "image/jpeg", buffer.getvalue()
    except Exception:  # any decoding problem means "no picture", never a crash
        return None


def _page_svg(
    doc: Document, number: int, page: Page, runs_of: dict[int, int], options: dict[str, Any]
) -> str:
    parts = [
        f'<section class="page" id="page-{number + 1}"><h2>Page {number + 1}</h2>',
        f'<svg viewBox="0 0 {page.width} {page.height}" role="img" '
        f'aria-label="page {number + 1} with word boxes">',
    ]
    picture = None
    if options.get("images", True):
        picture = page_image(
            doc,
            number,
            source=_source_file(doc, options),
            max_px=int(options.get("max_image_px", DEFAULT_IMAGE_PX)),
        )
    if picture is not None:
        mime, data = picture
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<image href="data:{mime};base64,{encoded}" x="0" y="0" '
            f'width="{page.width}" height="{page.height}" preserveAspectRatio="none"/>'
        )
    for span in doc.spans:
        box = span.box
        if box is None or box.page != number:
            continue
        classes = f"box {heat_class(span.confidence)}" + (" mk" if span.id in runs_of else "")
        parts.append(
            f'<rect class="{classes}" data-i="{span.id}" x="{box.x0:g}" y="{box.y0:g}" '
            f'width="{box.x1 - box.x0:g}" height="{box.y1 - box.y0:g}"/>'
        )
    parts.append("</svg>")
    if picture is None:
        parts.append('<p class="note">The page image is not available; boxes are drawn alone.</p>')
    parts.append("</section>")
    return "".join(parts)


def heat_text(doc: Document, runs_of: dict[int, int], *, focusable: bool = True) -> str:
    """The document text as escaped HTML, each span a `<span class="w cN [mk]" data-i=ID>`."""
    out: list[str] = []
    position = 0
    tab = ' tabindex="0"' if focusable else ""
    for span in doc.spans:
        out.append(html.escape(doc.text[position : span.start], quote=False))
        classes = f"w {heat_class(span.confidence)}" + (" mk" if span.id in runs_of else "")
        out.append(
            f'<span class="{classes}" data-i="{span.id}"{tab}>'
            f"{html.escape(span.text, quote=False)}</span>"
        )
        position = span.end
    out.append(html.escape(doc.text[position:], quote=False))
    return "".join(out)


def _legend() -> str:
    cells = "".join(f'<span class="c{d}">{d / 10:.1f}</span>' for d in range(10))
    return (
        f'<p class="legend">confidence: {cells}<span class="cn">not fused</span> '
        '<span class="mk">marked</span> (hover a word for details'
        "; click it to play from there)</p>"
    )


def export_html(doc: Document, **options: Any) -> str:
    """The self-contained HTML report (options: media_href, embed_media, embed_limit,
    source_path, images, max_image_px, threshold)."""
    return _report(doc, None, options)


def export_fields_html(doc: Document, extraction: Mapping[str, Any], **options: Any) -> str:
    """The HTML report of `doc` with the fields extracted from it beside the page or
    transcript: `extraction` is `Extraction.to_dict()`. Hovering or clicking a field
    highlights the words it was found in, and their boxes on the page pictures. Options as
    for `export_html`."""
    return _report(doc, extraction, options)


def _report(doc: Document, extraction: Mapping[str, Any] | None, options: dict[str, Any]) -> str:
    runs = marked_runs(doc, options.get("threshold"))
    runs_of = run_index(runs)
    reasons = [
        f"{_REASONS.get(r.reason, r.reason)}, run confidence {fmt_conf(r.confidence)}" for r in runs
    ]
    style = _CSS + heat_css()
    script = _JS
    if extraction is not None:
        style += FIELDS_CSS
        script += FIELDS_JS
    title = title_of(doc)
    meta = [f"engine: {doc.source.engine}"]
    if doc.source.engine_version:
        meta.append(f"version {doc.source.engine_version}")
    if doc.source.model:
        meta.append(f"model: {doc.source.model}")
    if doc.source.calibration:
        meta.append(f"calibration: {doc.source.calibration}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(csp(style, script))}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)} · uncertain report</title>",
        f"<style>{style}</style>",
        "</head><body>" if extraction is None else '</head><body class="with-fields">',
        f"<header><h1>{html.escape(title)}</h1>",
        f'<p class="summary">{html.escape(summary(doc))}</p>',
        f'<p class="meta">{html.escape("; ".join(meta))}</p>',
        _legend(),
        "</header>",
    ]
    known = {s.id for s in doc.spans}
    if extraction is not None:
        parts.append('<div class="layout">' + fields_panel(extraction, known) + "<div>")
    if any(s.time is not None for s in doc.spans):
        parts.append(_player(doc, options))
    for number, page in enumerate(doc.pages):
        parts.append(_page_svg(doc, number, page, runs_of, options))
    parts.append(f'<main class="text" id="text">{heat_text(doc, runs_of)}</main>')
    if extraction is not None:
        parts.append("</div></div>")
    parts.append('<div id="card" class="card" role="status" hidden></div>')
    data: dict[str, Any] = {"spans": _span_data(doc, runs_of, reasons)}
    if extraction is not None:
        data["fields"] = field_data(extraction, known)
    parts.append(
        f'<script type="application/json" id="uncertain-data">{json_for_script(data)}</script>'
    )
    parts.append(f"<script>{script}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
