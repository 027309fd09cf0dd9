"""Fetching datasets: every source, every way it can fail, and what is left behind.

The network side runs against a real HTTP server on 127.0.0.1 (a thread, random port);
every canonical URL of the registry is pointed at a closed local port for the whole module,
so no test here can reach the internet, and a forgotten URL fails fast ("connection refused").
"""

import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import d2lutils
from d2lutils.data import (
    REGISTRY,
    DataError,
    data_root,
    fetch,
    is_standin,
    sources,
    verify,
)
from d2lutils.data.registry import Dataset, FileSpec
from d2lutils.data.standin import write_cifar10_standin

# Real files for the tests that need them: from the mirror the test run was given (make test:
# ../shared/data), else from the verified copies in the normal data root (make test-data).
# Both are read before any test changes the environment.
_MIRROR = os.environ.get("D2L_DATA_MIRROR", "").strip()
REAL_MIRROR = Path(_MIRROR).expanduser().resolve() if _MIRROR and "://" not in _MIRROR else None
if REAL_MIRROR is not None and not REAL_MIRROR.is_dir():
    REAL_MIRROR = None
REAL_ROOT = data_root()


def real_file(dataset: str, spec: FileSpec, scratch: Path) -> Path:
    """The file `spec` as a mirror holds it (gzipped where the sources serve it gzipped)."""
    if REAL_MIRROR is not None:
        for candidate in (REAL_MIRROR / spec.mirror, REAL_MIRROR / Path(spec.mirror).name):
            if candidate.is_file():
                return candidate
    stored = REAL_ROOT / REGISTRY[dataset].folder / spec.name
    if not stored.is_file():
        pytest.skip(f"no mirror and no {stored}: run make test-data")
    if not spec.gzip:
        return stored
    packed = scratch / (stored.name + ".gz")
    packed.write_bytes(gzip.compress(stored.read_bytes(), compresslevel=1))
    return packed

PAYLOAD = b"The checksum decides what is kept.\n" * 40
CIFAR_FILES = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
               "data_batch_5", "test_batch", "batches.meta"]
PREFIX = "cifar-10-batches-py/"


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


# ------------------------------------------------------------------ the local HTTP server

class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # a client that stalls cannot hold a server thread for long

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404, "no such file")
            return
        body, mode = route
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":  # promise the whole file, send half of it, hang up
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class LocalServer:
    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes, self.httpd.requests = {}, []
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def serve(self, path: str, body: bytes, mode: str = "ok") -> str:
        self.httpd.routes[path] = (body, mode)
        return self.url(path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    srv = LocalServer()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def dead_url():
    """Base URL of a port that is bound but never listens: connections are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


class _NoSleep:
    @staticmethod
    def sleep(seconds):
        pass


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path, dead_url):
    """A fresh data root, no mirror, no Debian folder, and no canonical URL off this machine."""
    for name, ds in list(REGISTRY.items()):
        files = tuple(
            dataclasses.replace(f, urls=tuple(f"{dead_url}/canonical/{name}/{i}/{f.name}"
                                              for i in range(len(f.urls))))
            for f in ds.files
        )
        archive = ds.archive and dataclasses.replace(
            ds.archive, urls=(f"{dead_url}/canonical/{name}/{ds.archive.name}",))
        debian = str(tmp_path / "no-debian") if ds.debian_dir else None
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(
            ds, files=files, archive=archive, debian_dir=debian))
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "root"))
    monkeypatch.delenv("D2L_DATA_MIRROR", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # pooch waits a second before its one retry; the retry still happens, without the wait
    import pooch.core

    monkeypatch.setattr(pooch.core, "time", _NoSleep)


def leftovers(root: Path) -> list[str]:
    """Every file, and every hidden (temporary) entry, under `root`, but the verified-stamps."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if (p.is_file() or p.name.startswith(".")) and p.name != verify.STAMP)


def add_dataset(monkeypatch, *files: FileSpec, name: str = "tiny", **kwargs) -> Dataset:
    ds = Dataset(name=name, folder=name, files=files, description="test data", **kwargs)
    monkeypatch.setitem(REGISTRY, name, ds)
    return ds


def tiny(urls=(), data: bytes = PAYLOAD, **kwargs) -> FileSpec:
    return FileSpec(name="a.bin", checksum=digest(data), urls=tuple(urls),
                    mirror="tiny/a.bin", **kwargs)


# ------------------------------------------------------------------ the data root

def test_data_dir_is_respected(monkeypatch, tmp_path):
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"
    assert fetch.__module__ == "d2lutils.data.sources"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("D2L_DATA_DIR", "~/d2l-data")
    assert data_root() == tmp_path / "d2l-data"


def test_data_root_default(monkeypatch, tmp_path):
    monkeypatch.delenv("D2L_DATA_DIR")
    checkout = Path(d2lutils.__file__).resolve().parents[1]
    assert data_root() == checkout / "data"
    # installed outside a checkout (pip, Colab): a per-user cache folder
    import platformdirs

    monkeypatch.setattr(sources, "__file__", str(tmp_path / "site" / "d2lutils" / "x.py"))
    assert data_root() == Path(platformdirs.user_cache_dir("d2lutils")) / "data"


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'") as err:
        fetch("imagenet")
    for name in ("fashion_mnist", "cifar10", "time_machine", "kaggle_house", "airfoil"):
        assert name in str(err.value)


def test_registry_is_complete():
    for name, ds in REGISTRY.items():
        assert ds.name == name and ds.files and ds.description
        for f in ds.files:
            algorithm, hexdigest = f.checksum.split(":")
            assert len(hexdigest) == hashlib.new(algorithm).digest_size * 2, f.name


# ------------------------------------------------------------------ HTTP sources

def test_http_mirror_right_checksum(monkeypatch, server):
    add_dataset(monkeypatch, tiny())
    monkeypatch.setenv("D2L_DATA_MIRROR", server.url("/mirror/"))
    server.serve("/mirror/tiny/a.bin", PAYLOAD)
    folder = fetch("tiny", progress=False)
    assert folder == data_root() / "tiny"
    assert (folder / "a.bin").read_bytes() == PAYLOAD
    assert leftovers(data_root()) == ["tiny/a.bin"]
    assert server.requests == ["/mirror/tiny/a.bin"]
    fetch("tiny", progress=False)  # verified and kept: no second download
    assert server.requests == ["/mirror/tiny/a.bin"]


def test_canonical_url_after_failed_mirror(monkeypatch, server):
    add_dataset(monkeypatch, tiny(urls=[server.url("/canon/a.bin")]))
    monkeypatch.setenv("D2L_DATA_MIRROR", server.url("/mirror"))
    server.serve("/canon/a.bin", PAYLOAD)
    fetch("tiny", progress=False)
    assert (data_root() / "tiny" / "a.bin").read_bytes() == PAYLOAD
    # the mirror's own layout, then the bare file name, then the canonical URL
    assert server.requests[0] == "/mirror/tiny/a.bin"
    assert server.requests[-1] == "/canon/a.bin"
    assert "/mirror/a.bin" in server.requests
    assert leftovers(data_root()) == ["tiny/a.bin"]


def test_http_wrong_checksum_leaves_nothing(monkeypatch, server):
    url = server.serve("/canon/a.bin", PAYLOAD.replace(b"decides", b"DECIDES"))
    add_dataset(monkeypatch, tiny(urls=[url]))
    with pytest.raises(DataError) as err:
        fetch("tiny", progress=False)
    msg = str(err.value)
    assert "checksum mismatch" in msg and url in msg
    assert leftovers(data_root()) == []


def test_http_truncated_file(monkeypatch, server):
    url = server.serve("/canon/a.bin", PAYLOAD[:100])
    add_dataset(monkeypatch, tiny(urls=[url]))
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch("tiny", progress=False)
    assert leftovers(data_root()) == []


def test_http_connection_cut_mid_file(monkeypatch, server):
    url = server.serve("/canon/a.bin", PAYLOAD, mode="cut")
    add_dataset(monkeypatch, tiny(urls=[url]))
    with pytest.raises(DataError) as err:
        fetch("tiny", progress=False)
    assert url in str(err.value)
    assert leftovers(data_root()) == []


def test_http_404(monkeypatch, server):
    url = server.url("/canon/missing.bin")
    add_dataset(monkeypatch, tiny(urls=[url]))
    with pytest.raises(DataError, match="404") as err:
        fetch("tiny", progress=False)
    assert url in str(err.value)
    assert leftovers(data_root()) == []


def test_server_down(monkeypatch, dead_url):
    url = f"{dead_url}/canon/a.bin"
    add_dataset(monkeypatch, tiny(urls=[url]))
    with pytest.raises(DataError, match="ConnectionError") as err:
        fetch("tiny", progress=False)
    assert url in str(err.value)
    assert leftovers(data_root()) == []


def test_http_gzip_is_stored_decompressed(monkeypatch, server):
    url = server.serve("/canon/a.bin.gz", gzip.compress(PAYLOAD))
    add_dataset(monkeypatch, tiny(urls=[url], gzip=True))
    fetch("tiny", progress=False)
    assert (data_root() / "tiny" / "a.bin").read_bytes() == PAYLOAD
    assert leftovers(data_root()) == ["tiny/a.bin"]


def test_http_not_a_gzip(monkeypatch, server):
    url = server.serve("/canon/a.bin.gz", PAYLOAD)
    add_dataset(monkeypatch, tiny(urls=[url], gzip=True))
    with pytest.raises(DataError, match="not a valid gzip file"):
        fetch("tiny", progress=False)
    assert leftovers(data_root()) == []


# ------------------------------------------------------------------ directory mirror

def test_directory_mirror_copy_and_verify(monkeypatch, tmp_path):
    add_dataset(monkeypatch, tiny())
    mirror = tmp_path / "mirror"
    (mirror / "tiny").mkdir(parents=True)
    (mirror / "tiny" / "a.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("D2L_DATA_MIRROR", str(mirror))
    fetch("tiny")
    assert (data_root() / "tiny" / "a.bin").read_bytes() == PAYLOAD
    assert leftovers(data_root()) == ["tiny/a.bin"]


def test_flat_directory_mirror_by_file_name(monkeypatch, tmp_path):
    add_dataset(monkeypatch, tiny())
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("D2L_DATA_MIRROR", f"file://{tmp_path / 'flat'}")
    fetch("tiny")
    assert (data_root() / "tiny" / "a.bin").read_bytes() == PAYLOAD


def test_bad_mirror_copy_is_deleted(monkeypatch, tmp_path):
    add_dataset(monkeypatch, tiny())
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "a.bin").write_bytes(PAYLOAD[:-1])
    monkeypatch.setenv("D2L_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch("tiny")
    assert leftovers(data_root()) == []
    assert (tmp_path / "mirror" / "a.bin").exists()  # the mirror itself is never touched


def test_bad_mirror_copy_then_good_url(monkeypatch, tmp_path, server):
    add_dataset(monkeypatch, tiny(urls=[server.serve("/canon/a.bin", PAYLOAD)]))
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "a.bin").write_bytes(b"not it")
    monkeypatch.setenv("D2L_DATA_MIRROR", str(tmp_path / "mirror"))
    fetch("tiny", progress=False)
    assert (data_root() / "tiny" / "a.bin").read_bytes() == PAYLOAD
    assert server.requests == ["/canon/a.bin"]


def test_real_file_from_directory_mirror_and_corruption(monkeypatch, capsys, tmp_path):
    spec = REGISTRY["time_machine"].files[0]
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "timemachine.txt").symlink_to(real_file("time_machine", spec, tmp_path))
    monkeypatch.setenv("D2L_DATA_MIRROR", str(tmp_path / "mirror"))
    path = fetch("time_machine") / "timemachine.txt"
    assert verify.check_file(path, spec.checksum) is None
    original = path.read_bytes()

    # a corrupted file in the data root is detected, deleted and fetched again
    path.write_bytes(original.replace(b"Time", b"Tim3", 1))
    fetch("time_machine")
    out = capsys.readouterr().out
    assert "checksum mismatch" in out and "deleted" in out
    assert path.read_bytes() == original

    path.write_bytes(original[: len(original) // 2])  # truncated
    fetch("time_machine")
    assert "checksum mismatch" in capsys.readouterr().out
    assert path.read_bytes() == original
    assert leftovers(data_root()) == ["time_machine/timemachine.txt"]


# ------------------------------------------------------------------ Fashion-MNIST sources

def test_debian_folder_fallback_for_fashion_mnist(monkeypatch, tmp_path):
    debian = tmp_path / "debian-fashion-mnist"
    debian.mkdir()
    for spec in REGISTRY["fashion_mnist"].files:
        (debian / Path(spec.mirror).name).symlink_to(real_file("fashion_mnist", spec, tmp_path))
    ds = REGISTRY["fashion_mnist"]
    monkeypatch.setitem(REGISTRY, "fashion_mnist", dataclasses.replace(ds, debian_dir=str(debian)))
    folder = fetch("fashion_mnist", progress=False)
    assert sorted(leftovers(data_root())) == sorted(
        f"FashionMNIST/{f.name}" for f in ds.files)
    for spec in ds.files:  # stored decompressed; sha256 of the idx content
        assert verify.check_file(folder / spec.name, spec.checksum) is None
    header = (folder / "raw" / "t10k-labels-idx1-ubyte").read_bytes()[:8]
    assert header == bytes([0, 0, 8, 1, 0, 0, 0x27, 0x10])  # idx1, uint8, 10000 labels


def test_offline_without_mirror_names_every_source(dead_url, tmp_path):
    with pytest.raises(DataError) as err:
        fetch("fashion_mnist", progress=False)
    msg = str(err.value)
    spec = REGISTRY["fashion_mnist"].files[0]
    assert spec.name in msg
    assert str(tmp_path / "no-debian" / "train-images-idx3-ubyte.gz") in msg
    for url in spec.urls:
        assert url in msg
    assert "make data" in msg and "D2L_DATA_MIRROR" in msg
    assert leftovers(data_root()) == []


def test_offline_with_empty_mirror_lists_it(monkeypatch, tmp_path):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("D2L_DATA_MIRROR", str(tmp_path / "empty"))
    with pytest.raises(DataError) as err:
        fetch("time_machine", progress=False)
    msg = str(err.value)
    assert str(tmp_path / "empty" / "timemachine.txt") in msg
    for url in REGISTRY["time_machine"].files[0].urls:
        assert url in msg
    assert "make data" in msg and "D2L_DATA_MIRROR" in msg


# ------------------------------------------------------------------ the CIFAR-10 archive

@pytest.fixture(scope="module")
def cifar_src(tmp_path_factory):
    """A small stand-in in cifar-10-batches-py format, its md5s, and an archive of it."""
    root = tmp_path_factory.mktemp("cifar-src")
    folder = write_cifar10_standin(per_batch=20, n_test=20, root=root)
    files = {n: (folder / n).read_bytes() for n in CIFAR_FILES}
    return files, {n: digest(b, "md5") for n, b in files.items()}


def make_archive(files: dict, extra=()) -> bytes:
    """A tar.gz holding `files` under cifar-10-batches-py/, then the `extra` TarInfo members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(_dir(PREFIX))
        for name, data in files.items():
            info = tarfile.TarInfo(PREFIX + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.rstrip("/"))
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def use_cifar(monkeypatch, md5s: dict, archive: bytes | str) -> None:
    """Point the cifar10 entry at our files: member md5s and the archive's md5."""
    ds = REGISTRY["cifar10"]
    checksum = archive if isinstance(archive, str) else digest(archive, "md5")
    monkeypatch.setitem(REGISTRY, "cifar10", dataclasses.replace(
        ds,
        files=tuple(FileSpec(name=n, checksum=m, urls=(), mirror="") for n, m in md5s.items()),
        archive=dataclasses.replace(ds.archive, checksum=checksum),
    ))


def serve_archive(monkeypatch, server, body: bytes, mode: str = "ok") -> None:
    server.serve("/mirror/cifar-10-python.tar.gz", body, mode)
    monkeypatch.setenv("D2L_DATA_MIRROR", server.url("/mirror"))


def expect_refused(match: str):
    with pytest.raises(DataError, match=match) as err:
        fetch("cifar10", progress=False)
    assert "cifar-10-python.tar.gz" in str(err.value)
    assert leftovers(data_root()) == []  # no staging folder, no partial dataset
    assert not (data_root() / "cifar-10-batches-py").exists()
    return str(err.value)


def test_cifar_archive_right(monkeypatch, server, cifar_src, capsys):
    files, md5s = cifar_src
    archive = make_archive(files)
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    folder = fetch("cifar10", progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(CIFAR_FILES + [verify.STAMP])
    for name, data in files.items():
        assert (folder / name).read_bytes() == data
    assert leftovers(data_root()) == sorted(f"cifar-10-batches-py/{n}" for n in CIFAR_FILES)
    assert not is_standin("cifar10")
    X, y = d2lutils.data.cifar10_arrays(train=False)
    assert X.shape == (20, 32, 32, 3) and X.dtype == np.uint8 and y.shape == (20,)
    assert "stand-in" not in capsys.readouterr().out


def test_cifar_archive_from_directory_mirror(monkeypatch, tmp_path, cifar_src):
    files, md5s = cifar_src
    archive = make_archive(files)
    use_cifar(monkeypatch, md5s, archive)
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "cifar-10-python.tar.gz").write_bytes(archive)
    monkeypatch.setenv("D2L_DATA_MIRROR", str(tmp_path / "mirror"))
    folder = fetch("cifar10")
    assert (folder / "test_batch").read_bytes() == files["test_batch"]


def test_cifar_archive_wrong_checksum(monkeypatch, server, cifar_src):
    files, md5s = cifar_src
    use_cifar(monkeypatch, md5s, "md5:" + "0" * 32)
    serve_archive(monkeypatch, server, make_archive(files))
    expect_refused("checksum mismatch")


def test_cifar_archive_truncated(monkeypatch, server, cifar_src):
    files, md5s = cifar_src
    archive = make_archive(files)
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive[: len(archive) // 2])
    expect_refused("checksum mismatch")


def test_cifar_archive_cut_connection(monkeypatch, server, cifar_src):
    files, md5s = cifar_src
    archive = make_archive(files)
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive, mode="cut")
    expect_refused("cifar-10-python.tar.gz")


def test_cifar_truncated_archive_that_matches_its_checksum(monkeypatch, server, cifar_src):
    # the archive check passes (the registry names the truncated bytes); extraction must not
    files, md5s = cifar_src
    short = make_archive(files)[:-2000]
    use_cifar(monkeypatch, md5s, short)
    serve_archive(monkeypatch, server, short)
    expect_refused("not a readable tar.gz archive")


def test_cifar_member_with_wrong_checksum(monkeypatch, server, cifar_src):
    files, md5s = cifar_src
    batch = pickle.loads(files["data_batch_1"])
    batch["data"][0, 0] ^= 1  # one bit of one pixel
    archive = make_archive({**files, "data_batch_1": pickle.dumps(batch, protocol=2)})
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    expect_refused("data_batch_1 in the archive: checksum mismatch")


def test_cifar_member_missing(monkeypatch, server, cifar_src):
    files, md5s = cifar_src
    archive = make_archive({n: b for n, b in files.items() if n != "test_batch"})
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    expect_refused("test_batch is missing from the archive")


@pytest.fixture(params=["data filter", "own extraction"])
def extraction(request, monkeypatch):
    """Both ways of extracting: tarfile's "data" filter, and the copy loop of older Pythons."""
    has_filter = hasattr(tarfile, "data_filter")
    if request.param == "data filter" and not has_filter:
        pytest.skip("this Python's tarfile has no extraction filters")
    if request.param == "own extraction" and has_filter:
        monkeypatch.delattr(tarfile, "data_filter")
    calls = []
    real = tarfile.TarFile.extractall

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("filter"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extractall", spy)
    return request.param, calls


def test_cifar_archive_extraction(monkeypatch, server, cifar_src, extraction):
    files, md5s = cifar_src
    archive = make_archive(files)
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    folder = fetch("cifar10", progress=False)
    assert all((folder / n).read_bytes() == data for n, data in files.items())
    assert leftovers(data_root()) == sorted(f"cifar-10-batches-py/{n}" for n in CIFAR_FILES)
    way, calls = extraction
    assert calls == (["data"] if way == "data filter" else [])  # the library where it exists


@pytest.mark.parametrize("evil", ["../evil", PREFIX + "../../evil", "absolute"])
def test_cifar_unsafe_member_path_is_refused(monkeypatch, server, cifar_src, tmp_path, evil,
                                             extraction):
    files, md5s = cifar_src
    if evil == "absolute":  # inside tmp_path, so that a broken check cannot write elsewhere
        evil = str(tmp_path / "outside" / "evil")
    info = tarfile.TarInfo(evil)
    info.size = 4
    archive = make_archive(files, extra=[(info, b"evil")])
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    expect_refused("unsafe path")
    assert not [p for p in tmp_path.rglob("*evil*")]


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_cifar_link_member_is_refused(monkeypatch, server, cifar_src, kind, extraction):
    files, md5s = cifar_src
    info = tarfile.TarInfo(PREFIX + "readme.html")
    info.type, info.linkname = kind, "/etc/passwd" if kind == tarfile.SYMTYPE else PREFIX + "x"
    archive = make_archive(files, extra=[(info, None)])
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    expect_refused("is a link or device; refused")


def test_cifar_standin_kept_then_replaced(monkeypatch, server, cifar_src, capsys):
    files, md5s = cifar_src
    archive = make_archive(files)
    use_cifar(monkeypatch, md5s, archive)
    serve_archive(monkeypatch, server, archive)
    write_cifar10_standin(per_batch=10, n_test=10)
    assert is_standin("cifar10")
    fetch("cifar10", progress=False)  # offline notebooks never wait on the network
    assert server.requests == [] and is_standin("cifar10")

    folder = fetch("cifar10", replace_standin=True, progress=False)
    assert not is_standin("cifar10")
    assert (folder / "data_batch_3").read_bytes() == files["data_batch_3"]
    assert leftovers(data_root()) == sorted(f"cifar-10-batches-py/{n}" for n in CIFAR_FILES)
    # with the real data in place, the stand-in writer leaves it alone
    write_cifar10_standin(per_batch=10, n_test=10)
    assert not is_standin("cifar10")
    assert (folder / "data_batch_3").read_bytes() == files["data_batch_3"]


def test_standin_replaces_an_incomplete_copy(capsys):
    folder = data_root() / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"half a download")
    assert write_cifar10_standin(per_batch=10, n_test=10) == folder
    assert is_standin("cifar10")
    assert sorted(p.name for p in folder.iterdir()) == sorted(CIFAR_FILES + ["STANDIN.txt"])
    assert leftovers(data_root()) == sorted(f"cifar-10-batches-py/{n}"
                                            for n in CIFAR_FILES + ["STANDIN.txt"])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_offline_make_data_keeps_the_standin(capsys):
    # `make data` with no network: no mirror, and the archive's URL is a closed local port
    from d2lutils.data.__main__ import main

    folder = write_cifar10_standin(per_batch=10, n_test=10)
    before = _files(folder)
    with pytest.raises(DataError) as err:
        fetch("cifar10", replace_standin=True, progress=False)
    assert sorted(_files(folder)) == sorted(before) and _files(folder) == before
    X, y = d2lutils.data.cifar10_arrays(train=True)
    assert X.shape == (50, 32, 32, 3) and y.shape == (50,)
    msg = str(err.value)
    assert "cifar-10-python.tar.gz could not be fetched from any source" in msg
    assert f"The stand-in in {folder} was kept" in msg
    assert main(["fetch", "cifar10"]) == 1  # what `make data` runs
    assert "was kept" in capsys.readouterr().err
    assert _files(folder) == before and is_standin("cifar10")
    assert leftovers(data_root()) == sorted(f"cifar-10-batches-py/{n}"
                                            for n in CIFAR_FILES + ["STANDIN.txt"])


@pytest.mark.parametrize("damage", ["missing", "truncated", "not a pickle", "wrong shape"])
def test_standin_writer_repairs_a_broken_standin(damage, capsys):
    folder = write_cifar10_standin(per_batch=10, n_test=10)
    target = folder / "data_batch_2"
    if damage == "missing":
        target.unlink()
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:1000])
    elif damage == "not a pickle":
        target.write_bytes(b"half a download")
    else:
        target.write_bytes(pickle.dumps({"data": np.zeros((10, 7), np.uint8),
                                         "labels": [0] * 10}, protocol=2))
    assert write_cifar10_standin(per_batch=10, n_test=10) == folder
    assert "writing it again" in capsys.readouterr().out
    assert is_standin("cifar10")
    X, y = d2lutils.data.cifar10_arrays(train=True)
    assert X.shape == (50, 32, 32, 3) and y.shape == (50,)
    assert leftovers(data_root()) == sorted(f"cifar-10-batches-py/{n}"
                                            for n in CIFAR_FILES + ["STANDIN.txt"])
    kept = _files(folder)  # a whole stand-in is left as it is
    assert write_cifar10_standin(per_batch=10, n_test=10) == folder
    assert _files(folder) == kept and "writing it again" not in capsys.readouterr().out


def test_loading_a_broken_standin_says_what_to_do():
    folder = write_cifar10_standin(per_batch=10, n_test=10)
    (folder / "test_batch").unlink()
    with pytest.raises(DataError) as err:
        d2lutils.data.cifar10_arrays(train=False)
    msg = str(err.value)
    assert f"the CIFAR-10 stand-in in {folder} is incomplete or damaged" in msg
    assert "python -m d2lutils.data standin cifar10" in msg and "make test-data" in msg


def test_standin_folder_has_the_usual_permissions():
    # mkdtemp makes 0700 folders; a data root shared on a lab machine must stay readable
    umask = os.umask(0)
    os.umask(umask)
    folder = write_cifar10_standin(per_batch=10, n_test=10)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
