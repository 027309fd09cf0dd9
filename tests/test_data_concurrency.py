"""Two processes fetching the same dataset at once (two notebooks, or a notebook and `make data`).

Each child is a real process (multiprocessing, spawn). A barrier holds both just before they
move their verified copy into place, so both have already seen that there is no copy yet:
the race is forced, not left to chance. The one that comes second must find the winner's
verified copy and return it, never end in a raw OSError (ENOTEMPTY from moving a folder
onto one that now exists), and nothing may be left half-written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import multiprocessing
import os
import tarfile
from pathlib import Path

import pytest

from d2lutils.data import verify
from d2lutils.data.standin import write_cifar10_standin

CIFAR = "cifar-10-batches-py"
PAYLOAD = b"two processes, one verified copy\n" * 300


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def _child(kind: str, root: str, mirror: str, checksums: dict, barrier, results) -> None:
    """Fetch (or write the stand-in) in a fresh process, with the race forced at the move."""
    os.environ["D2L_DATA_DIR"], os.environ["D2L_DATA_MIRROR"] = root, mirror
    from d2lutils.data import REGISTRY, fetch
    from d2lutils.data.registry import Dataset, FileSpec
    from d2lutils.data.standin import write_cifar10_standin

    ds = REGISTRY["cifar10"]
    REGISTRY["cifar10"] = dataclasses.replace(
        ds, files=tuple(FileSpec(name=n, checksum=c, urls=(), mirror="")
                        for n, c in checksums["members"].items()),
        archive=dataclasses.replace(ds.archive, checksum=checksums["archive"], urls=()))
    REGISTRY["tiny"] = Dataset(name="tiny", folder="tiny", description="test data", files=(
        FileSpec(name="a.bin", checksum=checksums["tiny"], urls=(), mirror="a.bin"),))
    final = Path(root) / ("tiny/a.bin" if kind == "file" else CIFAR)
    real_replace, waited = os.replace, []

    def replace(src, dst):
        if Path(dst) == final and not waited:  # the move into place: wait for the other
            waited.append(True)
            barrier.wait(timeout=120)
        return real_replace(src, dst)

    os.replace = replace
    try:
        if kind == "standin":
            folder = write_cifar10_standin(per_batch=10, n_test=10)
        else:
            folder = fetch("tiny" if kind == "file" else "cifar10", progress=False)
        results.put(("ok", str(folder), bool(waited)))
    except BaseException as err:  # noqa: BLE001 (reported to the parent, which fails)
        results.put(("error", f"{type(err).__name__}: {err}", bool(waited)))


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{CIFAR}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["archive", "file", "standin"])
def test_two_processes_fetching_at_once(tmp_path, kind):
    src = write_cifar10_standin(per_batch=10, n_test=10, root=tmp_path / "src")
    members = {p.name: p.read_bytes() for p in src.iterdir() if p.name != "STANDIN.txt"}
    archive = _tar(members)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "cifar-10-python.tar.gz").write_bytes(archive)
    (mirror / "a.bin").write_bytes(PAYLOAD)
    checksums = {"members": {n: _md5(b) for n, b in members.items()},
                 "archive": _md5(archive), "tiny": _md5(PAYLOAD)}
    root = tmp_path / "root"

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(kind, str(root), str(mirror), checksums, barrier,
                                              results)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert all(o[2] for o in outcomes), "the race was not forced"
    folder = root / ("tiny" if kind == "file" else CIFAR)
    assert {o[1] for o in outcomes} == {str(folder)}

    hidden = [str(p.relative_to(root)) for p in root.rglob(".*") if p.name != verify.STAMP]
    assert hidden == []  # no staging folder, no part file, no folder moved aside
    if kind == "file":
        assert (folder / "a.bin").read_bytes() == PAYLOAD
    elif kind == "archive":
        assert {n: (folder / n).read_bytes() for n in members} == members
        assert sorted(p.name for p in folder.iterdir()) == sorted([*members, verify.STAMP])
    else:
        assert (folder / "STANDIN.txt").is_file() and len(list(folder.iterdir())) == 8
