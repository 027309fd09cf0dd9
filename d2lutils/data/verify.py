"""Checksums of stored files, and a stamp that remembers which files verified.

Hashing Fashion-MNIST or CIFAR-10 reads 55-180 MB. A file that verified is recorded in a
small JSON file, `STAMP`, in its dataset folder: its size, mtime and checksum. While the
file keeps that size and mtime, a new process (a new kernel) trusts the record instead of
hashing it again; a file whose size or mtime changed is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from pathlib import Path

STAMP = ".d2lutils-verified.json"
_VERIFIED: set[tuple[str, int, int, str]] = set()  # this process: (path, size, mtime_ns, sum)


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_file(path: Path, checksum: str) -> str | None:
    """None if `path` matches ``"<algorithm>:<hex>"``, else a sentence saying how it differs."""
    algorithm, expected = checksum.split(":", 1)
    actual = file_digest(path, algorithm)
    if actual == expected:
        return None
    return f"checksum mismatch: {algorithm} {actual} != expected {expected}"


def problem(folder: Path, name: str, checksum: str) -> str | None:
    """None if ``folder / name`` verifies (recorded, or hashed now), else "missing" or why not."""
    path = folder / name
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a folder of that name: from the same stat
            return "missing"
        key = (str(path), st.st_size, st.st_mtime_ns, checksum)
        if key in _VERIFIED:
            return None
        if _read(folder).get(name) == _entry(st, checksum):
            _VERIFIED.add(key)
            return None
        why = check_file(path, checksum)
        if why is None:
            record(folder, {name: checksum})
        return why
    except (FileNotFoundError, NotADirectoryError):  # not there, or moved away meanwhile
        return "missing"


def record(folder: Path, checksums: dict[str, str]) -> None:
    """Record that the files `checksums` names (relative to `folder`) verified just now.

    The stamp is replaced atomically. A folder that cannot be written (a read-only data
    root) keeps no stamp: the files are then hashed once per process, as before.
    """
    files = _read(folder)
    for name, checksum in checksums.items():
        try:
            st = (folder / name).stat()
        except FileNotFoundError:  # deleted meanwhile: nothing to record
            continue
        files[name] = _entry(st, checksum)
        _VERIFIED.add((str(folder / name), st.st_size, st.st_mtime_ns, checksum))
    part = folder / f".{STAMP}.{uuid.uuid4().hex[:8]}.part"
    try:
        part.write_text(json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True))
        os.replace(part, folder / STAMP)
    except OSError:
        try:
            part.unlink(missing_ok=True)
        except OSError:  # a read-only file system may refuse even that
            pass


def _entry(st: os.stat_result, checksum: str) -> dict:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "checksum": checksum}


def _read(folder: Path) -> dict[str, dict]:
    """The stamp's records; a missing or unreadable stamp is an empty one."""
    try:
        files = json.loads((folder / STAMP).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}
