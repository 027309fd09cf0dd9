"""Verification costs one hash per file, once: not once per process, and not twice per download.

A file that verified is recorded in a small stamp next to it (its size, mtime and checksum),
so the next kernel trusts it without reading 55-180 MB again; a file whose size or mtime no
longer matches is hashed again. The hashes are counted, never timed: a child process counts
the calls to d2lutils' digest function and to pooch's.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from d2lutils.data import REGISTRY, data_root, fetch, verify
from d2lutils.data.registry import Dataset, FileSpec

PAYLOAD = b"A verified file is hashed once.\n" * 500
CHECKSUM = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()

# The child: a tiny dataset, a counter on every digest function, one fetch, the count.
_CHILD = textwrap.dedent("""
    import json, os, sys
    import pooch.hashes
    from d2lutils.data import REGISTRY, data_root, fetch, verify
    from d2lutils.data.registry import Dataset, FileSpec

    REGISTRY["tiny"] = Dataset(
        name="tiny", folder="tiny", description="test data",
        files=(FileSpec(name="a.bin", checksum=sys.argv[1], urls=(), mirror="a.bin"),))
    calls = []
    ours, theirs = verify.file_digest, pooch.hashes.file_hash
    verify.file_digest = lambda *a, **k: calls.append("ours") or ours(*a, **k)
    pooch.hashes.file_hash = lambda *a, **k: calls.append("pooch") or theirs(*a, **k)
    fetch("tiny", progress=False)
    print(json.dumps(calls))
""")


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, str]:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("D2L_DATA_MIRROR", str(mirror))
    return dict(os.environ)


def hashes_in_a_new_process(env: dict[str, str]) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", _CHILD, CHECKSUM], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_new_process_trusts_the_stamp(env, tmp_path):
    assert hashes_in_a_new_process(env) == ["ours"]  # copied from the mirror, checked once
    assert hashes_in_a_new_process(env) == []  # the next kernel: the stamp, no hash


@pytest.fixture
def tiny(env, monkeypatch):
    """The same dataset in this process, and a counter on both digest functions."""
    import pooch.hashes

    monkeypatch.setitem(REGISTRY, "tiny", Dataset(
        name="tiny", folder="tiny", description="test data",
        files=(FileSpec(name="a.bin", checksum=CHECKSUM, urls=(), mirror="a.bin"),)))
    calls = []
    ours, theirs = verify.file_digest, pooch.hashes.file_hash
    monkeypatch.setattr(verify, "file_digest",
                        lambda *a, **k: calls.append("ours") or ours(*a, **k))
    monkeypatch.setattr(pooch.hashes, "file_hash",
                        lambda *a, **k: calls.append("pooch") or theirs(*a, **k))

    def hashes_of_a_fetch(new_process: bool = True) -> list[str]:
        if new_process:  # what a new kernel knows: only what is on disk
            monkeypatch.setattr(verify, "_VERIFIED", set())
        calls.clear()
        fetch("tiny", progress=False)
        return list(calls)

    return hashes_of_a_fetch


def test_a_changed_file_is_hashed_again(tiny, tmp_path):
    path = tmp_path / "root" / "tiny" / "a.bin"
    assert tiny() == ["ours"] and tiny() == []
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched: hashed again
    assert tiny() == ["ours"] and tiny() == []

    path.write_bytes(PAYLOAD[:-1])  # cut short: hashed, deleted, copied again, checked
    assert tiny() == ["ours", "ours"]
    assert path.read_bytes() == PAYLOAD and tiny() == []

    stamp = path.parent / verify.STAMP
    stamp.write_text("{ half a stamp")  # an unreadable stamp is no stamp
    assert tiny() == ["ours"] and tiny() == []

    record = json.loads(stamp.read_text())
    record["files"]["a.bin"]["checksum"] = "sha256:" + "0" * 64  # the registry moved on
    stamp.write_text(json.dumps(record))
    assert tiny() == ["ours"] and tiny() == []


def test_the_stamp_records_what_verified(tiny, tmp_path):
    tiny()
    folder = tmp_path / "root" / "tiny"
    entry = json.loads((folder / verify.STAMP).read_text())["files"]["a.bin"]
    st = (folder / "a.bin").stat()
    assert entry == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "checksum": CHECKSUM}
    assert sorted(p.name for p in folder.iterdir()) == sorted(["a.bin", verify.STAMP])


# ------------------------------------------------------------ a download pooch verified


@pytest.fixture
def http_mirror(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_download_is_hashed_once(http_mirror, tiny, monkeypatch, gzipped):
    served, url = http_mirror
    (served / "a.bin").write_bytes(gzip.compress(PAYLOAD) if gzipped else PAYLOAD)
    monkeypatch.setenv("D2L_DATA_MIRROR", url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    spec = dataclasses.replace(REGISTRY["tiny"].files[0], gzip=gzipped)
    monkeypatch.setitem(REGISTRY, "tiny", dataclasses.replace(REGISTRY["tiny"], files=(spec,)))
    # pooch checks what it downloads; a gzipped file is checked once decompressed, by us
    assert tiny() == (["ours"] if gzipped else ["pooch"])
    assert (data_root() / "tiny" / "a.bin").read_bytes() == PAYLOAD
    assert tiny() == []
