"""Reading privlink's own files in `.privlink/`: a missing file is None, a broken one a `StateError`.

Every reader of the state goes through `read_state_text` / `read_state_json`, so a truncated file, a
directory where a file goes or a file without read permission is one line naming the file and the
fix (exit 2), never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from privlink.errors import StateError


def check_state_dir(state_dir: Path) -> None:
    """`.privlink` must be a directory when it exists."""
    if state_dir.exists() and not state_dir.is_dir():
        raise StateError(
            str(state_dir),
            "is not a directory (privlink keeps its state there)",
            "move the file away, then run the command again",
        )


def read_state_text(path: Path, fix: str) -> str | None:
    """The file's text, or None when there is none; `fix` is the hint when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except NotADirectoryError:  # `.privlink` (or a directory above the file) is a file
        check_state_dir(path.parent)
        raise StateError(str(path), "cannot be read: a directory above it is a file", fix) from None
    except IsADirectoryError:
        raise StateError(str(path), "is a directory, not a file", fix) from None
    except PermissionError:
        raise StateError(
            str(path), "cannot be read (permission denied)", f"make it readable, or {fix}"
        ) from None
    except UnicodeDecodeError:
        raise StateError(str(path), "is corrupt (not UTF-8 text)", fix) from None
    except OSError as exc:
        raise StateError(str(path), f"cannot be read ({exc.strerror or exc})", fix) from None


def read_state_json(path: Path, fix: str) -> Any:
    """The file's JSON document, or None when there is no file."""
    text = read_state_text(path, fix)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateError(str(path), f"is corrupt (not JSON: {exc})", fix) from None
    if data is None:  # privlink never writes a bare `null`; None means "no file" to callers
        raise StateError(str(path), "is corrupt (null)", fix)
    return data


def corrupt(path: Path, exc: Exception, fix: str) -> StateError:
    """A `StateError` for a file whose JSON has the wrong shape (`exc` from pydantic or a check)."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        detail = f"{where}: {first['msg']}" if where else first["msg"]
    else:
        detail = str(exc)
    return StateError(str(path), f"is corrupt ({' '.join(detail.split())})", fix)
