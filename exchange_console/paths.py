"""Where the project's code and its local state live, importable without Django."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Local state: the SQLite database, the generated SECRET_KEY, the embedded Redis,
# the engine journal. VAR_DIR moves it elsewhere (e.g. a volume).
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve()
