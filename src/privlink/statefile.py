"""Reading and writing privlink's own files in `.privlink/`: a missing file is None, a broken one a
`StateError`; what privlink writes there is 0600 (directories 0700) whatever the umask.

Every reader of the state goes through `read_state_text` / `read_state_json`, so a truncated file, a
directory where a file goes or a file without read permission is one line naming the file and the
fix (exit 2), never a traceback. Every writer goes through `ensure_private_dir` and
`write_private_bytes` / `write_private_text` / `open_private_append`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

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


# -- writing: every file privlink creates in `.privlink/` is 0600 and every directory 0700, whatever the
# umask (the state names processes privlink signals and holds private keys: no other user may write or
# read it). Modes are set at creation, so there is no moment with a wider one.

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def ensure_private_dir(path: Path) -> None:
    """Create `path` and any missing parents as 0700 directories (existing ones are left alone)."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to change
        except NotADirectoryError:
            check_state_dir(directory.parent)
            raise
        os.chmod(directory, PRIVATE_DIR)  # the umask may have taken bits from the owner too


def write_private_bytes(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`, created 0600 (a temporary file beside it, then a rename)."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:  # e.g. Ctrl-C: no stray file that `down` would not know to remove
        tmp.unlink(missing_ok=True)
        raise


def write_private_text(path: Path, text: str) -> None:
    write_private_bytes(path, text.encode("utf-8"))


def open_private_append(path: Path) -> BinaryIO:
    """`path` opened for appending (a log), created 0600 when missing and made 0600 when not."""
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "ab")
