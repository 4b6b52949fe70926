"""Small request helpers shared by the pages: query parameters that must be ids, 400 pages."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render


def id_param_problem(params, name: str) -> str | None:
    """Why query parameter ``name`` is not a usable id (absent or empty is fine), or ``None``."""
    value = params.get(name, "")
    if value == "" or (value.isascii() and value.isdigit() and len(value) <= 18):
        return None
    return f"The {name} parameter must be a whole number (an id), not {value[:40]!r}."


def bad_request(request, message: str) -> HttpResponse:
    """A 400 page that says what was wrong with the request (the message is escaped)."""
    return render(request, "core/bad_request.html", {"message": message}, status=400)
