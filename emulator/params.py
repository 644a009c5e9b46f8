"""Parsing of v2 query and path parameters with the spec's types and bounds (a wrong value is a 400)."""

from __future__ import annotations

import re
from typing import Final

from flask import Request

from emulator.errors import bad_parameter

_INTEGER: Final = re.compile(r"-?\d{1,19}")
_BOOLEANS: Final = {"true": True, "false": False}


def list_param(req: Request, name: str) -> list[str]:
    """A v2 array parameter: comma-separated and/or repeated."""
    return [part.strip() for raw in req.args.getlist(name) for part in raw.split(",") if part.strip()]


def enum(req: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    """A string parameter restricted to ``allowed``."""
    value = req.args.get(name, default)
    if value is not None and value not in allowed:
        raise bad_parameter(f"'{name}' must be one of {', '.join(allowed)}")
    return value


def enum_list(req: Request, name: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> frozenset[str]:
    """An array parameter whose items are restricted to ``allowed``; ``default`` when absent."""
    values = list_param(req, name)
    for value in values:
        if value not in allowed:
            raise bad_parameter(f"'{name}' must be one of {', '.join(allowed)}")
    return frozenset(values or default)


def int64(raw: str, name: str = "id") -> int:
    """An ``int64`` path or query value; anything else is a 400 as the spec's type makes it."""
    if not _INTEGER.fullmatch(raw) or not -(2**63) <= int(raw) < 2**63:
        raise bad_parameter(f"Provided value for '{name}' is not the correct type: {raw!r}")
    return int(raw)


def ids(req: Request, name: str, max_items: int) -> list[int]:
    """An array of int64 ids with the spec's ``maxItems``."""
    values = list_param(req, name)
    if len(values) > max_items:
        raise bad_parameter(f"'{name}' accepts at most {max_items} values")
    return [int64(v, name) for v in values]


def boolean(req: Request, name: str, default: bool = False) -> bool:
    """A boolean flag (``true``/``false``, any case); another value is a 400."""
    raw = req.args.get(name)
    if raw is None:
        return default
    value = _BOOLEANS.get(raw.lower())
    if value is None:
        raise bad_parameter(f"'{name}' must be true or false")
    return value


def integer(req: Request, name: str, low: int, high: int, default: int | None = None) -> int | None:
    """An integer parameter within ``low..high``."""
    raw = req.args.get(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw) or not low <= int(raw) <= high:
        raise bad_parameter(f"'{name}' must be an integer between {low} and {high}")
    return int(raw)
