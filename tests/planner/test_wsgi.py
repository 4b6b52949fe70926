"""The WSGI module loads the URLconf (every view) and freezes what exists then, so a full
garbage collection in a web process does not walk Django's and the libraries' objects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wsgi_application_starts_with_its_modules_frozen():
    probe = (
        "import gc, sys, planner.wsgi as w; "
        "print(gc.get_freeze_count(), 'planner.core.views' in sys.modules, callable(w.application))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "planner.settings", "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    frozen, views_loaded, callable_app = int(out[-3]), out[-2], out[-1]
    assert views_loaded == "True" and callable_app == "True"
    assert frozen > 50_000  # Django alone brings far more than this
