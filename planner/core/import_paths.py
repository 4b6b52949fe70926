"""Which local files an ingest may read: only those below the import directory.

A FOCUS-file account names its source as ``s3://bucket/key`` or a server path; without a
boundary an admin could name any file the server can read (``/app/.env``), and the error
about its first line would show it to every viewer. Local paths are resolved (symlinks
followed, ``..`` collapsed) and must land below ``IMPORT_DIR`` (``HEADROOM_IMPORT_DIR``);
the runs Headroom creates for uploads may also read below ``UPLOAD_DIR``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from planner.core.errors import ImportPathError

REMOTE_SCHEMES = ("s3://",)


def _below(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def import_root() -> Path:
    return Path(settings.IMPORT_DIR).expanduser().resolve()


def resolve_focus_source(uri: str, *, allow_uploads: bool = False) -> str:
    """The URI to open: ``s3://`` unchanged, a local path resolved and checked.

    Relative paths are taken relative to the import directory. Raises
    :class:`ImportPathError` for other URI schemes and for paths outside the directory.
    """
    text = (uri or "").strip()
    if text.startswith(REMOTE_SCHEMES):
        return text
    if "://" in text:
        raise ImportPathError(
            f"only s3:// URIs and files below the import directory {import_root()} "
            f"(HEADROOM_IMPORT_DIR) are read, not {text.split('://', 1)[0]}:// sources"
        )
    if not text:
        raise ImportPathError("no FOCUS source is configured")
    root = import_root()
    path = Path(text).expanduser()
    resolved = (path if path.is_absolute() else root / path).resolve()
    roots = [root]
    if allow_uploads:
        roots.append(Path(settings.UPLOAD_DIR).expanduser().resolve())
    if not any(_below(resolved, r) for r in roots):
        raise ImportPathError(
            f"local FOCUS files are read only from below the import directory {root} "
            f"(HEADROOM_IMPORT_DIR); {text!r} is outside it"
            + (" once links are followed" if path.is_absolute() and path != resolved else "")
        )
    return str(resolved)


def focus_source_problem(uri: str) -> str | None:
    """Why an account's FOCUS source may not be used, or ``None`` (for form/serializer checks)."""
    text = (uri or "").strip()
    if not text or text.startswith("demo://"):
        return None  # uploads only, or the demo fleet's marker (never opened)
    try:
        resolve_focus_source(uri)
    except ImportPathError as exc:
        return f"{str(exc)[0].upper()}{str(exc)[1:]}."
    return None
