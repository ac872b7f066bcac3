"""engine/core stays pure: no Django, Redis, asyncio, clock or I/O imports (STYLE.md, practice 6)."""

from __future__ import annotations

import ast
from pathlib import Path

import engine.core

CORE = Path(engine.core.__file__).parent
# The standard library modules the core may use: data structures, exact arithmetic, hashing,
# text, serialization to bytes. Anything else (os, io, time, datetime, random, logging, threading, socket, asyncio,
# django, redis...) would make the core depend on the world outside the commands it is given.
ALLOWED = {
    "__future__",
    "collections",
    "collections.abc",
    "fractions",
    "hashlib",
    "heapq",
    "json",
    "marshal",
    "re",
    "typing",
}


def imports_of(path: Path) -> set[str]:
    """Return the absolute modules a source file imports (relative imports stay in the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
    return found


def test_the_core_imports_nothing_but_a_few_pure_standard_modules():
    sources = sorted(CORE.glob("*.py"))
    assert len(sources) >= 6

    offenders = {path.name: sorted(imports_of(path) - ALLOWED) for path in sources}

    assert {name: modules for name, modules in offenders.items() if modules} == {}


def test_the_check_would_catch_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import time\nfrom django.conf import settings\nfrom . import book\n")

    assert imports_of(sample) - ALLOWED == {"time", "django.conf"}
