"""The fields panel of the HTML report: extracted fields beside the page or transcript.

It reads an extraction in its dict form (`Extraction.to_dict()`: `fields` maps each field's
path to its `value`, `confidence`, `needs_review`, `span_ids`, `reasons`), so the exporters
need nothing from the extraction package. Each field is a row; hovering, focusing or
clicking it (a click pins it) highlights the words it was found in, in the text and as
boxes on the page pictures, through the same `data-i` hooks the words already carry.

Everything shown (field names, values, reasons, notes: the model's output is as untrusted
as the document's text) goes through `html.escape`; the span ids reach the script only as
integers in the JSON data block.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import Any

from uncertain.exporters._common import fmt_conf, heat_class

__all__ = ["FIELDS_CSS", "FIELDS_JS", "field_data", "fields_panel"]

FIELDS_CSS = """
body.with-fields{max-width:100rem}
.layout{display:grid;grid-template-columns:minmax(16rem,26rem) minmax(0,1fr);gap:1.5rem;
align-items:start}
@media (max-width:50rem){.layout{grid-template-columns:1fr}}
.fields{position:sticky;top:0;max-height:100vh;overflow:auto;padding-top:1rem;font-size:.92rem}
.fields h2{font-size:1.1rem;margin:.2rem 0}
.fields table{border-collapse:collapse;width:100%}
.fields th,.fields td{text-align:left;vertical-align:top;padding:.25rem .35rem;
border-bottom:1px solid #e3e3e3;overflow-wrap:anywhere}
.fields thead th{font-weight:600;color:#444;font-size:.8rem}
.field{cursor:pointer}
.field:hover,.field:focus,.field.on{background:#efe7fb;outline:none}
.field.review th::before{content:"\\25B2 ";color:#b00020}
.field .why{display:block;color:#8a4b00;font-size:.8rem}
.field .none{color:#777;font-style:italic}
.field .conf{border-radius:3px;padding:0 .25rem;white-space:nowrap}
.w.fh{outline:3px solid #6a1fd0;outline-offset:1px}
.page rect.fh{fill:#6a1fd0;fill-opacity:.2;stroke:#6a1fd0;stroke-width:6}
"""

FIELDS_JS = r"""
(function () {
  "use strict";
  var fields = JSON.parse(document.getElementById("uncertain-data").textContent).fields || [];
  var pinned = null, hovered = null;
  function each(selector, fn) {
    var els = document.querySelectorAll(selector);
    for (var k = 0; k < els.length; k++) fn(els[k]);
  }
  function light(f) {
    var first = null, ids = fields[f] ? fields[f].s : [];
    for (var k = 0; k < ids.length; k++) {
      each('[data-i="' + Number(ids[k]) + '"]', function (el) {
        el.classList.add("fh");
        if (first === null && el.tagName.toLowerCase() === "span") first = el;
      });
    }
    each('[data-f="' + f + '"]', function (el) { el.classList.add("on"); });
    return first;
  }
  function refresh() {
    each(".fh", function (el) { el.classList.remove("fh"); });
    each(".field.on", function (el) { el.classList.remove("on"); });
    if (pinned !== null) light(pinned);
    if (hovered !== null) light(hovered);
  }
  function row(e) {
    return e.target && e.target.closest ? e.target.closest("[data-f]") : null;
  }
  function enter(e) { var r = row(e); if (r) { hovered = r.getAttribute("data-f"); refresh(); } }
  function leave(e) { if (row(e)) { hovered = null; refresh(); } }
  function pin(r) {
    var f = r.getAttribute("data-f");
    pinned = pinned === f ? null : f;
    refresh();
    if (pinned !== null) {
      var first = light(pinned);
      if (first && first.scrollIntoView) first.scrollIntoView({block: "center"});
    }
  }
  document.addEventListener("mouseover", enter);
  document.addEventListener("mouseout", leave);
  document.addEventListener("focusin", enter);
  document.addEventListener("focusout", leave);
  document.addEventListener("click", function (e) { var r = row(e); if (r) pin(r); });
  document.addEventListener("keydown", function (e) {
    var r = row(e);
    if (r && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); pin(r); }
  });
})();
"""


def _fields(extraction: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    fields = extraction.get("fields") or {}
    return [(str(name), result) for name, result in fields.items() if isinstance(result, Mapping)]


def _span_ids(result: Mapping[str, Any], known: set[int] | None) -> list[int]:
    # Integers only: they are written into CSS selectors by the script.
    ids = [
        i for i in result.get("span_ids") or [] if isinstance(i, int) and not isinstance(i, bool)
    ]
    return [i for i in ids if known is None or i in known]


def field_data(
    extraction: Mapping[str, Any], known: set[int] | None = None
) -> list[dict[str, Any]]:
    """The script's data for each field, in panel order: its name and span ids (`s`), only
    ids in `known` where given."""
    return [{"name": name, "s": _span_ids(result, known)} for name, result in _fields(extraction)]


def _number(value: Any) -> float | None:
    """A finite number, else None (the dict may come from anywhere)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _value(value: Any) -> str:
    if value is None:
        return '<span class="none">no value</span>'
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return html.escape(text, quote=False)


def fields_panel(extraction: Mapping[str, Any], known: set[int] | None = None) -> str:
    """The panel as escaped HTML: a row per field (`data-f` its index in `field_data`) with
    its value, confidence, whether it needs review and why; the model, error and notes."""
    fields = _fields(extraction)
    review = sum(bool(result.get("needs_review")) for _, result in fields)
    parts = [
        '<aside class="fields" id="fields" aria-label="extracted fields"><h2>Fields</h2>',
        f'<p class="summary">{len(fields)} field{"s" * (len(fields) != 1)}, '
        f"{review} need{'s' * (review == 1)} review</p>",
    ]
    if extraction.get("model"):
        parts.append(f'<p class="meta">model: {html.escape(str(extraction["model"]))}</p>')
    if extraction.get("error"):
        parts.append(f'<p class="note">error: {html.escape(str(extraction["error"]))}</p>')
    parts.append(
        "<table><thead><tr><th>field</th><th>value</th><th>confidence</th></tr></thead><tbody>"
    )
    for index, (name, result) in enumerate(fields):
        confidence = _number(result.get("confidence"))
        flagged = bool(result.get("needs_review"))
        reasons = [str(r) for r in result.get("reasons") or []]
        if not _span_ids(result, known) and result.get("value") is not None:
            reasons.append("no words to highlight")
        why = "".join(f'<span class="why">{html.escape(r, quote=False)}</span>' for r in reasons)
        parts.append(
            f'<tr class="field{" review" * flagged}" data-f="{index}" tabindex="0">'
            f'<th scope="row">{html.escape(name, quote=False)}</th>'
            f"<td>{_value(result.get('value'))}{why}</td>"
            f'<td><span class="conf {heat_class(confidence)}">{fmt_conf(confidence)}</span>'
            f"{' review' if flagged else ''}</td></tr>"
        )
    parts.append("</tbody></table>")
    for note in extraction.get("notes") or []:
        parts.append(f'<p class="note">note: {html.escape(str(note), quote=False)}</p>')
    parts.append(
        '<p class="legend">hover a field to see its words; click it to keep them lit</p></aside>'
    )
    return "".join(parts)
