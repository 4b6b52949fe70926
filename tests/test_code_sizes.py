"""Small modules with one job (issue #14, item 9): no module over 400 lines and no function over
80 lines in planner/, costmodels/ and ingest/. Exempt: the plain reference simulator loop (kept
as one readable loop on purpose, it is the oracle the vectorised simulator is tested against),
migrations (generated) and tests."""

from __future__ import annotations

import ast

from tests.conftest import REPO

PACKAGES = ("planner", "costmodels", "ingest")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

#: Exempt for good: the reference loop.
EXEMPT_MODULES = {"costmodels/simulator_reference.py"}


def _modules():
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if "migrations" in path.parts or rel in EXEMPT_MODULES:
                continue
            yield rel, path.read_text()


def test_no_module_is_over_400_lines():
    offenders = {
        rel: n for rel, text in _modules() if (n := len(text.splitlines())) > MAX_MODULE_LINES
    }
    assert offenders == {}


def test_no_function_is_over_80_lines():
    offenders = {}
    for rel, text in _modules():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            name = f"{rel}:{node.name}"
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                offenders[f"{name} (line {node.lineno})"] = lines
    assert offenders == {}
