"""Where the read-only shared material lives: beside the checkout (``../shared``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

SHARED_DIR: Final = Path(__file__).resolve().parents[2].parent / "shared"
QSH_VECTORS: Final = SHARED_DIR / "data" / "qsh_vectors.json"


def load_qsh_vectors() -> list[dict[str, Any]]:
    """The 71 public qsh vectors; a missing file is an error, never a skip."""
    vectors: list[dict[str, Any]] = json.loads(QSH_VECTORS.read_text(encoding="utf-8"))
    return vectors
