"""The public qsh test vectors, kept in the repository (``tests/data/qsh_vectors.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

QSH_VECTORS: Final = Path(__file__).resolve().parents[1] / "data" / "qsh_vectors.json"


def load_qsh_vectors() -> list[dict[str, Any]]:
    """The 71 public qsh vectors; a missing file is an error, never a skip."""
    vectors: list[dict[str, Any]] = json.loads(QSH_VECTORS.read_text(encoding="utf-8"))
    return vectors
