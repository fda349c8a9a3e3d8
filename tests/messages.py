"""A check shared by the error-message tests: a message says each thing once."""

from __future__ import annotations

import re


def repeated_clauses(message: str) -> list[str]:
    """Clauses a one-line error message says more than once: a hint appended twice, a file
    name repeated inside a wrapped error. Clauses are what lies between `;`, brackets, `: `
    and sentence ends, compared without quotes and case."""
    parts = [part.strip(" '\"`").lower() for part in re.split(r"[;()]|: |\. ", message)]
    parts = [part for part in parts if part and part != "error"]
    return sorted({part for part in parts if parts.count(part) > 1})
