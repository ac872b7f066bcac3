"""The dashboard's message schema (engine/health.schema.json), as a validator for tests."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator, FormatChecker

from exchange_console.paths import BASE_DIR

SCHEMA = Draft202012Validator(
    json.loads((BASE_DIR / "engine" / "health.schema.json").read_text()), format_checker=FormatChecker()
)
