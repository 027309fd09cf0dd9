"""Fetching datasets: the data root, sources in order, checksums, atomic writes, safe extraction.

A file is taken from, in order: the data root (when it verifies), `D2L_DATA_MIRROR` (a folder:
copied; an http(s) URL: downloaded), a system folder such as Debian's Fashion-MNIST package,
and the canonical URLs. Every copy is written under a temporary name in its final folder,
checked against the registry's checksum and only then renamed into place, so nothing
half-written ever appears under the data root; a copy that fails its check is deleted.
An archive (CIFAR-10) is extracted and checked in a staging folder, which then takes the
dataset folder's place; a stand-in there stays until that moment. Two processes may fetch
the same dataset at once: the second keeps the first one's verified copy.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import platformdirs

from d2lutils.data import verify
from d2lutils.data.registry import REGISTRY, Archive, Dataset, FileSpec

STANDIN_MARKER = "STANDIN.txt"


class DataError(RuntimeError):
    """A dataset could not be found, fetched or verified; the message says what to do."""


class _SourceFailed(Exception):
    """One source did not deliver a good copy; the next source is tried."""


def data_root() -> Path:
    """The folder that holds every dataset.

    `D2L_DATA_DIR` if set; else ``data/`` of the course checkout when d2lutils runs from one;
    else a per-user cache folder (so a notebook opened alone, in Colab say, works).
    """
    env = os.environ.get("D2L_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "data"
    return Path(platformdirs.user_cache_dir("d2lutils")) / "data"


def _not_a_folder(path: Path) -> DataError:
    return DataError(
        f"the data root {data_root()} or a folder in it is not a folder: {path} is a file. "
        "Move that file away, or set D2L_DATA_DIR to a folder (it is created if missing)."
    )


def _lookup(name: str) -> Dataset:
    """The registry entry of `name`; an unknown name raises DataError listing the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise DataError(f"unknown dataset {name!r}; the course has: {known}") from None


def is_standin(name: str = "cifar10") -> bool:
    """True if the folder of `name` holds a generated stand-in rather than the real data."""
    return (data_root() / _lookup(name).folder / STANDIN_MARKER).exists()


def _writable_error(path: Path, err: OSError) -> DataError:
    return DataError(
        f"cannot write to {path} ({err.strerror or err}). The data root {data_root()} must be "
        "writable: set D2L_DATA_DIR to a folder you can write to."
    )


def _verifies(folder: Path, spec: FileSpec) -> bool:
    """True if the file `spec` in `folder` verifies (hashed only if not recorded as good)."""
    return verify.problem(folder, spec.name, spec.checksum) is None


def _is_good(folder: Path, spec: FileSpec) -> bool:
    """True if the file `spec` in `folder` verifies. A file that fails is deleted (said so)."""
    path = folder / spec.name
    problem = verify.problem(folder, spec.name, spec.checksum)
    if problem in (None, "missing"):
        return problem is None
    try:
        path.unlink()
    except OSError as err:
        raise DataError(
            f"{path}: {problem}; the corrupted or truncated file cannot be deleted "
            f"({err.strerror or err}). The data root {data_root()} must be writable: set "
            "D2L_DATA_DIR to a folder you can write to, or delete the file yourself."
        ) from err
    print(f"{path}: {problem}; the corrupted or truncated file was deleted and will be fetched "
          "again.")
    return False


def _mirror_candidates(relative: str) -> list[str]:
    """Where `relative` may be in `D2L_DATA_MIRROR`: its own path, then the bare file name."""
    mirror = os.environ.get("D2L_DATA_MIRROR", "").strip()
    if not mirror or not relative:
        return []
    names = [relative] + ([Path(relative).name] if "/" in relative else [])
    if mirror.startswith(("http://", "https://")):
        return [mirror.rstrip("/") + "/" + n for n in names]
    if mirror.startswith("file://"):
        mirror = mirror[len("file://"):]
    return [str(Path(mirror).expanduser() / n) for n in names]


def _download(url: str, dest: Path, checksum: str | None, progress: bool) -> None:
    """Download `url` to `dest` with pooch (retries, progress bar, hash check)."""
    # only a download needs them: pooch and requests are slow to import, and a fetch that
    # finds its files (or copies them from a mirror) must stay light (test_data_imports.py)
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=60)
    fetcher = pooch.create(  # pooch reads "md5:...", "sha1:..."; None skips its check
        path=dest.parent, base_url="", registry={dest.name: checksum}, urls={dest.name: url},
        retry_if_failed=1,
    )
    try:
        fetcher.fetch(dest.name, downloader=downloader)
    except ValueError as err:  # pooch's hash check; it already deleted the download
        dest.unlink(missing_ok=True)
        raise _SourceFailed(f"checksum mismatch ({err}); the download was deleted") from err
    except requests.RequestException as err:
        raise _SourceFailed(f"{type(err).__name__}: {err}") from err


def _obtain(source: str, dest: Path, checksum: str, gzipped: bool, progress: bool) -> None:
    """Put a verified copy of `source` (path or URL) at `dest`, atomically, or raise."""
    is_url = source.startswith(("http://", "https://"))
    if not is_url and not Path(source).is_file():
        raise _SourceFailed("not there")
    part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    raw = part.with_name(part.name + ".gz") if gzipped else part
    checked = False
    try:
        if is_url:
            # pooch checks what it downloads; a gzipped file is checked decompressed, below
            _download(source, raw, None if gzipped else checksum, progress)
            checked = not gzipped
        else:
            try:
                original = open(source, "rb")
            except OSError as err:  # an unreadable mirror is a failed source, not our fault
                raise _SourceFailed(f"cannot read it ({err.strerror or err})") from err
            with original, open(raw, "wb") as out:
                shutil.copyfileobj(original, out, 1 << 20)
        if gzipped:
            try:
                with gzip.open(raw, "rb") as src, open(part, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except (OSError, EOFError) as err:
                raise _SourceFailed(f"not a valid gzip file ({err}); the copy was deleted") from err
        problem = None if checked else verify.check_file(part, checksum)
        if problem:
            raise _SourceFailed(f"{problem}; the copy was deleted")
        os.replace(part, dest)
    finally:
        for leftover in {part, raw}:
            leftover.unlink(missing_ok=True)


def _fail(ds: Dataset, what: str, mirror_name: str, tried: list[str], note: str = "") -> DataError:
    lines = "\n".join(f"  - {t}" for t in tried) or "  (no source: D2L_DATA_MIRROR is unset)"
    return DataError(
        f"{ds.name}: {what} could not be fetched from any source.\nTried:\n{lines}\n{note}"
        "What to do: run `make data` on a machine with a network, or set D2L_DATA_MIRROR to a "
        f"folder or http(s) URL that holds {mirror_name}."
    )


def _fetch_file(ds: Dataset, spec: FileSpec, folder: Path, progress: bool) -> None:
    sources = _mirror_candidates(spec.mirror)
    if ds.debian_dir:
        sources.append(str(Path(ds.debian_dir) / Path(spec.mirror).name))
    sources += list(spec.urls)
    tried = []
    for source in sources:
        try:
            _obtain(source, folder / spec.name, spec.checksum, spec.gzip, progress)
            verify.record(folder, {spec.name: spec.checksum})  # verified: no second hash
            return
        except _SourceFailed as why:
            tried.append(f"{source}: {why}")
    raise _fail(ds, spec.name, spec.mirror, tried)


def _extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive into `dest`: regular files and folders inside it, nothing else.

    Every member is checked first: an absolute path, ``..``, a link or a device is refused
    (CIFAR-10 has none). Where Python has it (3.10.12+, 3.11.4+), tarfile's "data" filter
    then guards the extraction itself; older Pythons copy the checked files out one by one.
    """
    dest = dest.resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            target = (dest / member.name).resolve()
            if target != dest and dest not in target.parents:
                raise _SourceFailed(f"unsafe path {member.name!r} in {archive.name}; refused")
            if not (member.isdir() or member.isfile()):
                raise _SourceFailed(f"{member.name!r} in {archive.name} is a link or device; "
                                    "refused")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members=members, filter="data")
            return
        for member in members:
            target = dest / member.name
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)


def swap_folder(new: Path, folder: Path, already_done: Callable[[], bool]) -> None:
    """Put the folder `new` in the place of `folder`; an old `folder` is deleted after.

    Another process may be doing the same (two notebooks fetching at once): whenever
    `already_done()` says that `folder` now holds a good copy, that copy is kept and `new`
    is not moved. A move that fails for another reason puts the old folder back.
    """
    for _ in range(3):
        if already_done():
            return
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
        try:
            try:
                os.replace(folder, old)
            except FileNotFoundError:  # nothing there (or another process moved it first)
                pass
            try:
                os.replace(new, folder)
                return
            except OSError as err:
                if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    continue  # another process moved its copy in meanwhile: look at it
                if old.exists() and not folder.exists():
                    os.replace(old, folder)
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
    if not already_done():
        raise DataError(f"{folder} kept changing while another process wrote it; run the "
                        "same command again once that process has finished.")


def holds_verified(ds: Dataset, folder: Path) -> bool:
    """True if `folder` holds every file of `ds`, verified (not a stand-in)."""
    return (not (folder / STANDIN_MARKER).exists()
            and all(_verifies(folder, spec) for spec in ds.files))


def _fetch_archive(ds: Dataset, archive: Archive, folder: Path, progress: bool) -> None:
    """Fetch the archive, verify it and its members, and swap the folder into place."""
    sources = _mirror_candidates(archive.name) + list(archive.urls)
    tried = []
    for source in sources:
        staging = Path(tempfile.mkdtemp(prefix=f".{ds.name}-", dir=folder.parent))
        try:
            packed = staging / archive.name
            _obtain(source, packed, archive.checksum, False, progress)
            _extract(packed, staging / "x")
            extracted = staging / "x" / archive.member_prefix
            for spec in ds.files:
                member = extracted / spec.name
                if not member.is_file():
                    raise _SourceFailed(f"{spec.name} is missing from the archive")
                problem = verify.check_file(member, spec.checksum)
                if problem:
                    raise _SourceFailed(f"{spec.name} in the archive: {problem}")
            verify.record(extracted, {spec.name: spec.checksum for spec in ds.files})
            # a stand-in or a partial copy is replaced; a copy another process just put
            # there is kept
            swap_folder(extracted, folder, lambda: holds_verified(ds, folder))
            return
        except _SourceFailed as why:
            tried.append(f"{source}: {why}")
        except (tarfile.TarError, EOFError) as err:
            tried.append(f"{source}: not a readable tar.gz archive ({err})")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    note = ""
    if (folder / STANDIN_MARKER).exists():
        note = (f"The stand-in in {folder} was kept (generated data, not CIFAR-10); the "
                "notebooks still run on it.\n")
    raise _fail(ds, archive.name, archive.name, tried, note)


def fetch(name: str, *, replace_standin: bool = False, progress: bool = True) -> Path:
    """Make sure dataset `name` is under the data root, verified; return its folder.

    Files already there are verified and kept (each is hashed once; its verified-stamp
    spares later processes the hash while the file is unchanged); missing or corrupted ones
    are fetched. A CIFAR-10 stand-in is kept as it is unless `replace_standin` is True (as
    ``make data`` asks), so that offline notebooks never wait on the network.
    Raises DataError, with what to do, when a file cannot be had from any source.
    """
    ds = _lookup(name)
    folder = data_root() / ds.folder
    for above in (data_root(), folder):
        if above.exists() and not above.is_dir():
            raise _not_a_folder(above)
    if (folder / STANDIN_MARKER).exists():
        if not replace_standin:
            return folder
        # the stand-in's files are not the real ones, but they stay, whole, until the real
        # archive has been fetched and verified: _fetch_archive swaps the folder only then
        missing = list(ds.files)
    else:
        missing = [f for f in ds.files if not _is_good(folder, f)]
    if not missing:
        return folder
    try:
        if ds.archive is not None:
            folder.parent.mkdir(parents=True, exist_ok=True)
            _fetch_archive(ds, ds.archive, folder, progress)
        else:
            for spec in missing:
                (folder / spec.name).parent.mkdir(parents=True, exist_ok=True)
                _fetch_file(ds, spec, folder, progress)
    except OSError as err:
        friendly = _explain(err, folder)
        if friendly is None:
            raise
        raise friendly from err
    return folder


def _explain(err: OSError, folder: Path) -> DataError | None:
    """What to do about an OSError while writing under the data root; None if unknown."""
    where = Path(err.filename or folder)
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):  # permissions, read-only disk
        return _writable_error(where, err)
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DataError(
            f"cannot write to {where} ({err.strerror or err}); nothing half-written was kept. "
            f"The data root {data_root()} needs room for the dataset: free some space, or set "
            "D2L_DATA_DIR to a folder on a disk with room."
        )
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        return _not_a_folder(where)
    return None
