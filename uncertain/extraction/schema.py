"""The schemas `extract` accepts, read into a flat list of fields, and answers checked against them.

A schema is a pydantic model class or a JSON Schema dict describing one flat object: strings,
numbers, integers, booleans and dates (`{"type": "string", "format": "date"}`, or a pydantic
`date`), each optionally nullable, plus lists of such flat objects for line items. Anything
else (nested objects, unions of types, tuples, free-form dicts) is refused with a `UsageError`
naming the field, before any model is asked.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from uncertain.errors import UsageError

__all__ = ["FieldKind", "FieldSpec", "ItemSchema", "SchemaSpec", "check_value", "read_schema"]

FieldKind = Literal["string", "number", "integer", "boolean", "date"]
KINDS: tuple[FieldKind, ...] = ("string", "number", "integer", "boolean", "date")
_SUPPORTED = (
    "a flat object of strings, numbers, integers, booleans and dates, "
    "and lists of such objects for line items"
)


@dataclass(frozen=True)
class FieldSpec:
    """One scalar field: its name, kind, description and whether it may be null."""

    name: str
    kind: FieldKind
    description: str = ""
    nullable: bool = False
    required: bool = True


@dataclass(frozen=True)
class ItemSchema:
    """A list of line items, each a flat object of `fields`."""

    name: str
    fields: tuple[FieldSpec, ...]
    description: str = ""


@dataclass(frozen=True)
class SchemaSpec:
    """A schema read for extraction: its scalar fields, its line-item lists, the JSON Schema
    sent to the model, and the pydantic model class to build the value with (if one was given).
    """

    title: str
    fields: tuple[FieldSpec, ...]
    items: tuple[ItemSchema, ...]
    json_schema: dict[str, Any]
    model_class: Any = None

    @property
    def names(self) -> tuple[str, ...]:
        """The top-level property names, in schema order."""
        return tuple(f.name for f in self.fields) + tuple(i.name for i in self.items)


def read_schema(schema: Any) -> SchemaSpec:
    """Read a pydantic model class or a JSON Schema dict; `UsageError` for what is not
    supported, naming the field."""
    model_class = None
    if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
        model_class = schema
        raw = schema.model_json_schema()
    elif isinstance(schema, dict):
        raw = schema
    else:
        raise UsageError(
            "schema must be a pydantic model class or a JSON Schema dict, "
            f"not {type(schema).__name__}"
        )
    definitions = {**raw.get("definitions", {}), **raw.get("$defs", {})}
    top = _resolve(raw, definitions, "the schema")
    if top.get("type") != "object" or not isinstance(top.get("properties"), dict):
        raise UsageError(
            f"the schema must describe an object with properties; supported: {_SUPPORTED}"
        )
    if not top["properties"]:
        raise UsageError("the schema has no properties: name at least one field to extract")
    required = set(top.get("required", top["properties"]))
    fields: list[FieldSpec] = []
    lists: list[ItemSchema] = []
    clean: dict[str, Any] = {}
    for name, prop in top["properties"].items():
        _check_name(name)
        prop = _resolve(prop, definitions, name)
        item = _item_list(name, prop, definitions)
        if item is not None:
            lists.append(item)
            clean[name] = {
                "type": "array",
                "items": _object_schema(item.fields),
                **({"description": item.description} if item.description else {}),
            }
            continue
        spec = _scalar(name, prop, definitions, required=name in required)
        fields.append(spec)
        clean[name] = _scalar_schema(spec)
    json_schema = {
        "type": "object",
        "properties": clean,
        "required": list(clean),
        "additionalProperties": False,
    }
    title = str(top.get("title") or raw.get("title") or "extraction")
    return SchemaSpec(title, tuple(fields), tuple(lists), json_schema, model_class)


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ -]{0,63}", name):
        raise UsageError(
            f"field name {name!r} is not supported: use letters, digits, '_', '-' or spaces "
            "(at most 64 characters, starting with a letter or '_')"
        )


def _resolve(node: Any, definitions: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise UsageError(f"{where}: a schema must be a JSON object, not {node!r}")
    seen = 0
    while "$ref" in node:
        ref = str(node["$ref"])
        key = ref.rsplit("/", 1)[-1]
        if key not in definitions or seen > 8:
            raise UsageError(f"{where}: cannot resolve {ref!r}; inline the definition")
        node = {**definitions[key], **{k: v for k, v in node.items() if k != "$ref"}}
        seen += 1
    return dict(node)


def _nullable(
    prop: dict[str, Any], definitions: dict[str, Any], where: str
) -> tuple[dict[str, Any], bool]:
    """The non-null part of `prop` and whether null is allowed (`anyOf` with null, or a type
    list with "null")."""
    options = prop.get("anyOf") or prop.get("oneOf")
    if options is not None:
        kept = [_resolve(o, definitions, where) for o in options if o.get("type") != "null"]
        if len(kept) != 1:
            raise UsageError(
                f"field {where!r}: unions of several types are not supported; {_SUPPORTED}"
            )
        merged = {**{k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}, **kept[0]}
        return merged, len(kept) < len(options)
    kind = prop.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            raise UsageError(
                f"field {where!r}: unions of several types are not supported; {_SUPPORTED}"
            )
        return {**prop, "type": kinds[0]}, len(kinds) < len(kind)
    return prop, False


def _scalar(
    name: str, prop: dict[str, Any], definitions: dict[str, Any], *, required: bool
) -> FieldSpec:
    inner, nullable = _nullable(prop, definitions, name)
    kind = inner.get("type")
    if kind == "string" and inner.get("format") in ("date", "date-time"):
        kind = "date"
    if kind not in KINDS:
        what = "a nested object" if kind == "object" else f"type {kind!r}"
        raise UsageError(f"field {name!r} is {what}, which extract does not support; {_SUPPORTED}")
    description = str(inner.get("description") or prop.get("description") or "")
    return FieldSpec(name, kind, description, nullable or not required, required)


def _item_list(name: str, prop: dict[str, Any], definitions: dict[str, Any]) -> ItemSchema | None:
    inner, _ = _nullable(prop, definitions, name)
    if inner.get("type") != "array":
        return None
    items = _resolve(inner.get("items", {}), definitions, name)
    if items.get("type") != "object" or not isinstance(items.get("properties"), dict):
        raise UsageError(f"field {name!r}: lists must hold flat objects (line items); {_SUPPORTED}")
    required = set(items.get("required", items["properties"]))
    fields = []
    for sub, subprop in items["properties"].items():
        _check_name(sub)
        subprop = _resolve(subprop, definitions, f"{name}.{sub}")
        if _nullable(subprop, definitions, sub)[0].get("type") in ("array", "object"):
            raise UsageError(f"field {name}.{sub}: line items must be flat; {_SUPPORTED}")
        fields.append(_scalar(f"{sub}", subprop, definitions, required=sub in required))
    description = str(inner.get("description") or prop.get("description") or "")
    return ItemSchema(name, tuple(fields), description)


def _scalar_schema(spec: FieldSpec) -> dict[str, Any]:
    # A date goes as a string: the description asks for ISO, `check_value` reads other forms.
    out: dict[str, Any] = {"type": "string" if spec.kind == "date" else spec.kind}
    if spec.nullable:
        out["type"] = [out["type"], "null"]
    description = spec.description
    if spec.kind == "date":
        description = f"{description} (a date, YYYY-MM-DD)".strip()
    if description:
        out["description"] = description
    return out


def _object_schema(fields: tuple[FieldSpec, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {f.name: _scalar_schema(f) for f in fields},
        "required": [f.name for f in fields],
        "additionalProperties": False,
    }


# -- checking answers ------------------------------------------------------------------------

_AMOUNT = re.compile(r"[-+]?\d[\d,.' ]*")
_DATE_FORMATS = (
    "%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%d.%m.%y",
    "%Y/%m/%d", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d %b %y", "%d-%b-%Y",
    "%d-%b-%y", "%m/%d/%Y", "%m/%d/%y", "%Y%m%d",
)  # fmt: skip


def parse_amount(text: str) -> float | None:
    """A number as written on a page: `RM 1,234.50`, `9.00`, `1.234,50`, `-3`; None if none."""
    match = _AMOUNT.search(text.replace("\u2212", "-"))
    if match is None:
        return None
    raw = match.group().strip().replace(" ", "").replace("'", "")
    if "," in raw and "." in raw:
        # Whichever separator comes last is the decimal point.
        raw = (
            raw.replace(",", "")
            if raw.rfind(".") > raw.rfind(",")
            else raw.replace(".", "").replace(",", ".")
        )
    elif "," in raw:
        head, _, tail = raw.rpartition(",")
        raw = raw.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    raw = raw.rstrip(".")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_date(text: str) -> dt.date | None:
    """A date in one of the common written forms (day first where ambiguous); None if none."""
    cleaned = " ".join(text.strip().replace(",", ", ").split()).replace(" ,", ",")
    candidates = {cleaned, cleaned.split(" ")[0], cleaned.split("T")[0]}
    for candidate in candidates:
        for form in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(candidate, form).date()
            except ValueError:
                continue
    return None


def check_value(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """`value` as the field's kind, or None and the reason it violates the schema."""
    if value is None:
        return None, None if spec.nullable else "missing (null) but required"
    if spec.kind == "string":
        if isinstance(value, (dict, list)):
            return None, f"expected a string, got {type(value).__name__}"
        return str(value), None
    if spec.kind == "boolean":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
            return value.strip().lower() in ("true", "yes"), None
        return None, f"expected true or false, got {value!r}"[:120]
    if spec.kind in ("number", "integer"):
        number: float | None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            number = parse_amount(value)
        else:
            number = None
        if number is None or not math.isfinite(number):
            return None, f"expected a number, got {value!r}"[:120]
        if spec.kind == "integer":
            if number != int(number):
                return None, f"expected an integer, got {value!r}"[:120]
            return int(number), None
        return number, None
    # date
    parsed = parse_date(str(value)) if isinstance(value, str) else None
    if parsed is None:
        return None, f"expected a date, got {value!r}"[:120]
    return parsed.isoformat(), None
