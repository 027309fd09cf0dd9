"""Bad input gets a clear message and loses nothing.

Each test plays something a learner really runs into (a corrupted or truncated download, a
mistyped mirror, a read-only data folder, a misspelt dataset, a forced GPU that is not there,
a model that does not fit its data, a checkpoint of another architecture) and checks two
things: the message says what happened and what to do, and no file under the data root was
left half-written, or deleted unless it was bad.

The datasets used are the small ones (time_machine, kaggle_house, airfoil), copied from the
course's data root (``make test`` fills it first) into a mirror folder under tmp_path. The
canonical URLs are sent to a closed local port through HTTP(S)_PROXY, so nothing here can
reach the internet and a URL that is tried fails at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import d2lutils
from d2lutils import data, train
from d2lutils.data import REGISTRY, DataError, sources
from d2lutils.data.verify import STAMP, check_file

SMALL = ("time_machine", "kaggle_house", "airfoil")
REAL_ROOT = data.data_root()  # read at import, before any test changes the environment
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


def _real_file(name: str, spec) -> Path:
    path = REAL_ROOT / REGISTRY[name].folder / spec.name
    if not path.is_file() or check_file(path, spec.checksum):
        pytest.skip(f"needs verified {name} in {REAL_ROOT} (run `make data`)")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) but the verified-stamps: path -> sha256."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != STAMP}


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders (``.name...``) that a failed fetch might have left."""
    if not folder.exists():
        return []
    return [str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name != STAMP]


@pytest.fixture
def mirror(tmp_path) -> Path:
    """A mirror folder holding the small datasets, laid out as D2L_DATA_MIRROR expects."""
    folder = tmp_path / "mirror"
    for name in SMALL:
        for spec in REGISTRY[name].files:
            target = folder / spec.mirror
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_real_file(name, spec), target)
    return folder


@pytest.fixture
def root(tmp_path, monkeypatch, mirror) -> Path:
    """An empty data root for this test, the mirror above, and no way out to the network."""
    folder = tmp_path / "data"
    monkeypatch.setenv("D2L_DATA_DIR", str(folder))
    monkeypatch.setenv("D2L_DATA_MIRROR", str(mirror))
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, DEAD_PROXY)
    for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("D2L_DEVICE", raising=False)
    assert data.data_root() == folder
    return folder


def path_of(name: str, index: int = 0) -> Path:
    return data.data_root() / REGISTRY[name].folder / REGISTRY[name].files[index].name


# ------------------------------------------------------------ corrupted or truncated files


def test_corrupted_file_is_deleted_refetched_and_reported(root, capsys):
    for name in SMALL:
        data.fetch(name)
    before = snapshot(root)
    bad, good = path_of("kaggle_house", 0), path_of("kaggle_house", 1)
    good_stat = good.stat()
    raw = bytearray(bad.read_bytes())
    raw[100:110] = b"##########"  # same size, different bytes
    bad.write_bytes(bytes(raw))
    capsys.readouterr()

    train_df, test_df = data.kaggle_house()  # the learner's call, not fetch itself

    out = capsys.readouterr().out
    assert f"{bad}: checksum mismatch" in out
    assert "corrupted or truncated file was deleted and will be fetched again" in out
    assert str(good) not in out
    assert train_df.shape == (1460, 81) and test_df.shape == (1459, 80)
    assert snapshot(root) == before  # the bad file is back, verified; nothing else changed
    after = good.stat()
    assert (after.st_ino, after.st_mtime_ns) == (good_stat.st_ino, good_stat.st_mtime_ns)
    assert leftovers(root) == []


def test_truncated_file_is_refetched(root, capsys):
    data.fetch("time_machine")
    data.fetch("airfoil")
    before = snapshot(root)
    bad = path_of("time_machine")
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    capsys.readouterr()

    lines = data.read_time_machine()

    out = capsys.readouterr().out
    assert f"{bad}: checksum mismatch" in out and "deleted and will be fetched again" in out
    assert len(lines) == 3221  # the whole book, as d2l reads it
    assert snapshot(root) == before
    assert leftovers(root) == []


def test_corrupted_file_with_a_bad_mirror_deletes_only_the_bad_file(root, mirror, capsys):
    for name in SMALL:
        data.fetch(name)
    bad, good = path_of("kaggle_house", 0), path_of("kaggle_house", 1)
    bad.write_bytes(b"Id,MSSubClass\n1,60\n")  # a truncated CSV
    (mirror / bad.name).write_bytes(b"not the data either\n")
    before = snapshot(root)
    mirror_before = snapshot(mirror)

    with pytest.raises(DataError) as info:
        data.fetch("kaggle_house")

    message = str(info.value)
    assert ("kaggle_house: kaggle_house_pred_train.csv could not be fetched from any source"
            in message)
    assert f"{mirror / bad.name}: checksum mismatch" in message and "copy was deleted" in message
    assert "make data" in message and "D2L_DATA_MIRROR" in message
    assert "deleted and will be fetched again" in capsys.readouterr().out
    expected = {k: v for k, v in before.items() if Path(k).name != bad.name}
    assert snapshot(root) == expected  # only the bad file is gone; the good ones are as they were
    assert not bad.exists() and good.exists()
    assert snapshot(mirror) == mirror_before  # the mirror is only ever read
    assert leftovers(root) == []


# ------------------------------------------------------------ a wrong D2L_DATA_MIRROR


def test_mirror_folder_that_does_not_exist(root, tmp_path, monkeypatch):
    missing = tmp_path / "no-such-mirror"
    monkeypatch.setenv("D2L_DATA_MIRROR", str(missing))

    with pytest.raises(DataError) as info:
        data.fetch("time_machine")

    message = str(info.value)
    assert "time_machine: timemachine.txt could not be fetched from any source" in message
    assert f"{missing / 'timemachine.txt'}: not there" in message
    for url in REGISTRY["time_machine"].files[0].urls:  # every source is listed
        assert url in message
    assert "run `make data` on a machine with a network" in message
    assert "set D2L_DATA_MIRROR to a folder or http(s) URL that holds timemachine.txt" in message
    assert snapshot(root) == {} and leftovers(root) == []
    assert not missing.exists()


def test_unreadable_mirror_file_is_a_failed_source_not_a_data_root_problem(
    root, mirror, monkeypatch
):
    # as root, chmod cannot make a file unreadable, so the read itself is made to fail
    import builtins

    unreadable = str(mirror / "timemachine.txt")

    def guarded_open(file, *args, **kwargs):
        if str(file) == unreadable:
            raise PermissionError(13, "Permission denied", unreadable)
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(sources, "open", guarded_open, raising=False)
    with pytest.raises(DataError) as info:
        data.fetch("time_machine")
    message = str(info.value)
    assert f"{unreadable}: cannot read it (Permission denied)" in message
    assert "must be writable" not in message  # the data root is fine; the mirror is not
    assert "make data" in message and "D2L_DATA_MIRROR" in message
    assert snapshot(root) == {} and leftovers(root) == []


def test_mirror_folder_with_the_wrong_files(root, mirror):
    # timemachine.txt holds another file; the two Kaggle files are swapped; airfoil is cut short
    tm = mirror / "timemachine.txt"
    shutil.copyfile(mirror / "airfoil_self_noise.dat", tm)
    train_csv = mirror / "kaggle_house_pred_train.csv"
    test_csv = mirror / "kaggle_house_pred_test.csv"
    a, b = train_csv.read_bytes(), test_csv.read_bytes()
    train_csv.write_bytes(b)
    test_csv.write_bytes(a)
    airfoil = mirror / "airfoil_self_noise.dat"
    airfoil.write_bytes(airfoil.read_bytes()[:1000])
    mirror_before = snapshot(mirror)

    for name, wrong in [("time_machine", tm), ("kaggle_house", train_csv), ("airfoil", airfoil)]:
        with pytest.raises(DataError) as info:
            data.fetch(name)
        message = str(info.value)
        assert "could not be fetched from any source" in message
        assert f"{wrong}: checksum mismatch" in message and "the copy was deleted" in message
        assert "make data" in message and "D2L_DATA_MIRROR" in message

    assert snapshot(root) == {}  # nothing half-written, nothing wrong kept
    assert leftovers(root) == []
    assert snapshot(mirror) == mirror_before


def test_good_files_are_kept_when_the_mirror_goes_bad(root, mirror):
    for name in SMALL:
        data.fetch(name)
    before = snapshot(root)
    for p in mirror.iterdir():
        p.write_bytes(b"garbage")
    for name in SMALL:  # verified files are never re-fetched, so a bad mirror cannot hurt them
        data.fetch(name)
    assert snapshot(root) == before


# ------------------------------------------------------------ a read-only data root

_READONLY_CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    root = Path(os.environ["D2L_DATA_DIR"])
    try:  # is the read-only state really enforced for this process?
        (root / ".probe").write_text("x")
    except OSError:
        pass
    else:
        (root / ".probe").unlink()
        print(json.dumps({"enforced": False}))
        sys.exit(0)
    from d2lutils import data
    result = {"enforced": True}
    try:
        train_df, _ = data.kaggle_house()  # all there and good: reading needs no write
        result["kaggle_house"] = list(train_df.shape)
    except Exception as err:
        result["kaggle_house"] = f"{type(err).__name__}: {err}"
    for name in ("time_machine", "airfoil"):  # missing, corrupted
        try:
            data.fetch(name)
            result[name] = "no error"
        except Exception as err:
            result[name] = f"{type(err).__name__}: {err}"
    print(json.dumps(result))
""")


def _prepare_readonly_root(root: Path) -> tuple[Path, dict[str, str]]:
    data.fetch("kaggle_house")  # good
    data.fetch("airfoil")
    bad = path_of("airfoil")
    bad.write_bytes(b"corrupted")  # bad, and it cannot be deleted
    assert not (data.data_root() / "time_machine").exists()  # missing, and it cannot be written
    return bad, snapshot(root)


def _check_readonly_result(result: dict, root: Path, bad: Path, why: str) -> None:
    assert result["kaggle_house"] == [1460, 81], result["kaggle_house"]
    missing = result["time_machine"]
    assert missing.startswith("DataError: cannot write to"), missing
    assert f"({why})" in missing
    assert f"The data root {root} must be writable: set D2L_DATA_DIR" in missing
    corrupted = result["airfoil"]
    assert corrupted.startswith(f"DataError: {bad}: checksum mismatch"), corrupted
    assert f"cannot be deleted ({why})" in corrupted
    assert "set D2L_DATA_DIR" in corrupted


def _run_child(command: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_read_only_data_root_by_permissions(root, tmp_path):
    """chmod a-w: learners whose data folder belongs to someone else (a shared machine)."""
    bad, before = _prepare_readonly_root(root)
    command = [sys.executable, "-c", _READONLY_CHILD]
    if os.geteuid() == 0:
        # root ignores file permissions through CAP_DAC_OVERRIDE; drop it (and the read
        # override) from the child so the kernel enforces them as for any learner
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]
    folders = [p for p in [root, *root.rglob("*")] if p.is_dir()]
    modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
    try:
        for p in modes:
            p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
        result = _run_child(command, dict(os.environ))
    finally:
        for p in folders[::-1] + [p for p in modes if p not in folders]:
            p.chmod(stat.S_IMODE(modes[p]))
    if not result["enforced"]:
        pytest.skip("this OS does not enforce read-only permissions for this process")
    _check_readonly_result(result, root, bad, "Permission denied")
    assert snapshot(root) == before and leftovers(root) == []


def test_read_only_data_root_by_mount(root):
    """A read-only filesystem (EROFS), as on a read-only volume or a locked-down lab machine."""
    bad, before = _prepare_readonly_root(root)
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare and mount (util-linux) for a private read-only mount")
    user_ns = [] if os.geteuid() == 0 else ["-r"]  # non-root: map to root in a user namespace
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" || exit 97; exec "$@"'
    command = ["unshare", *user_ns, "-m", "sh", "-c", script, str(root),
               sys.executable, "-c", _READONLY_CHILD]
    proc = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)
    if proc.returncode == 97 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot make a private read-only mount here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["enforced"], "the read-only mount did not stop writes"
    _check_readonly_result(result, root, bad, "Read-only file system")
    assert snapshot(root) == before and leftovers(root) == []


# ------------------------------------------------------------ an unknown dataset name


def test_unknown_dataset_name(root, capsys):
    with pytest.raises(DataError) as info:
        data.fetch("fashion-mnist")
    known = ", ".join(sorted(REGISTRY))
    assert str(info.value) == f"unknown dataset 'fashion-mnist'; the course has: {known}"
    from d2lutils.data.__main__ import main

    assert main(["fetch", "time_machine", "fashion-mnist"]) == 1
    err = capsys.readouterr().err
    assert "error: unknown dataset 'fashion-mnist'; the course has: airfoil, cifar10" in err
    assert snapshot(root) == {"time_machine/timemachine.txt": sha(_real_time_machine())}
    assert leftovers(root) == []


def _real_time_machine() -> Path:
    return _real_file("time_machine", REGISTRY["time_machine"].files[0])


# ------------------------------------------------------------ a device that is not there


def test_forcing_cuda_without_cuda_is_a_clear_error(root, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("D2L_DEVICE", "cuda")
    expected = ("D2L_DEVICE=cuda but CUDA is not available on this machine; "
                "unset D2L_DEVICE or set it to cpu")
    with pytest.raises(RuntimeError, match=expected):
        d2lutils.device()
    with pytest.raises(RuntimeError, match=expected):  # the loaders ask for the device too
        data.TensorLoader(torch.zeros(4, 2), batch_size=2)
    net = nn.Linear(2, 2)
    loader = data.TensorLoader(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long),
                               batch_size=2, device="cpu")
    with pytest.raises(RuntimeError, match=expected):
        train.fit(net, loader, None, epochs=1, lr=0.1, plot=False, progress=False)
    assert snapshot(root) == {}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_forcing_cuda_in_a_fresh_process():
    env = dict(os.environ, D2L_DEVICE="cuda")
    proc = subprocess.run([sys.executable, "-c", "import d2lutils; d2lutils.device()"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "RuntimeError: D2L_DEVICE=cuda but CUDA is not available on this machine; "
        "unset D2L_DEVICE or set it to cpu")


# ------------------------------------------------------------ wrong shapes in training

QUIET = {"device": "cpu", "plot": False, "progress": False}


def images(n: int = 32) -> data.TensorLoader:
    return data.TensorLoader(torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,)),
                             batch_size=8, device="cpu")


def test_fit_images_into_a_linear_layer_without_flatten():
    with pytest.raises(ValueError) as info:
        train.fit(nn.Sequential(nn.Linear(784, 10)), images(), None, epochs=1, lr=0.1, **QUIET)
    message = str(info.value)
    assert "the first batch does not fit the model: input shape (8, 1, 28, 28)" in message
    assert "first layer Linear(in_features=784, out_features=10, bias=True)" in message
    assert "Hint:" in message and "add nn.Flatten() before nn.Linear" in message


def test_fit_too_few_outputs_for_the_labels():
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 5))
    with pytest.raises(ValueError) as info:
        train.fit(net, images(), None, epochs=1, lr=0.1, **QUIET)
    message = str(info.value)
    assert "but the model outputs 5 scores per example" in message
    assert "Hint: the last layer needs as many outputs as there are classes" in message


class BatchSecondLM(nn.Module):
    """An RNN language model that forgets to put the batch axis first again."""

    def __init__(self, vocab_size: int, embed: int | None = None):
        super().__init__()
        self.emb = nn.Embedding(embed or vocab_size, 8)
        self.rnn = nn.RNN(8, 16)
        self.out = nn.Linear(16, vocab_size)

    def begin_state(self, batch_size, device):
        return torch.zeros(1, batch_size, 16, device=device)

    def forward(self, X, state):
        Y, state = self.rnn(self.emb(X.T), state)
        return self.out(Y), state  # (steps, batch, vocab): wrong


def lm_data():
    tokens = list("the time traveller was expounding a recondite matter to us " * 20)
    vocab = data.Vocab(tokens)
    return data.SeqLoader(vocab[tokens], 4, 10, device="cpu"), vocab


def test_train_lm_logits_in_the_wrong_layout():
    loader, vocab = lm_data()
    with pytest.raises(ValueError) as info:
        train.train_lm(BatchSecondLM(len(vocab)), loader, vocab, lr=1.0, epochs=1, **QUIET)
    message = str(info.value)
    assert "language-model logits must be (batch, steps, vocab) = (4, 10) + (vocab,)" in message
    assert "got (10, 4, " in message
    assert "Hint: with nn.RNN(batch_first=False) transpose the output back" in message


def test_train_lm_embedding_smaller_than_the_vocabulary():
    loader, vocab = lm_data()
    net = BatchSecondLM(len(vocab), embed=5)
    with pytest.raises(ValueError) as info:
        train.train_lm(net, loader, vocab, lr=1.0, epochs=1, **QUIET)
    message = str(info.value)
    assert "the first batch does not fit the language model: X has shape (4, 10)" in message
    assert f"the vocabulary has {len(vocab)} tokens" in message
    assert f"must both be built with len(vocab) = {len(vocab)}" in message
    assert "PyTorch said: index out of range" in message


# ------------------------------------------------------------ a checkpoint of another model


def mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    net, other = mlp(32), mlp(32)
    path = train.save_model(net, tmp_path / "ckpt" / "mlp.pt")
    assert path.is_file() and leftovers(path.parent) == []
    assert train.load_model(other, path) is other
    X = torch.rand(4, 1, 28, 28)
    assert torch.equal(net(X), other(X))


def test_loading_into_the_wrong_architecture(tmp_path):
    torch.manual_seed(0)
    path = train.save_model(mlp(32), tmp_path / "mlp.pt")
    saved = sha(path)
    wrong = mlp(64)
    weights = {k: v.clone() for k, v in wrong.state_dict().items()}

    with pytest.raises(ValueError) as info:
        train.load_model(wrong, path)

    message = str(info.value)
    assert f"the weights in {path} do not fit this Sequential" in message
    assert "Hint: build the model exactly as it was when it was saved" in message
    assert ("size mismatch for 1.weight: copying a param with shape torch.Size([32, 784]) "
            "from checkpoint, the shape in current model is torch.Size([64, 784])") in message
    assert all(torch.equal(v, weights[k]) for k, v in wrong.state_dict().items())  # unchanged
    assert sha(path) == saved

    deeper = nn.Sequential(*mlp(32), nn.ReLU(), nn.Linear(10, 10))
    with pytest.raises(ValueError, match=r"Unexpected key|Missing key\(s\) in state_dict: \"5"):
        train.load_model(deeper, path)
    assert sha(path) == saved


def test_loading_a_truncated_checkpoint(tmp_path):
    path = train.save_model(mlp(8), tmp_path / "mlp.pt")
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError) as info:
        train.load_model(mlp(8), path)
    assert f"{path} is not a readable PyTorch checkpoint" in str(info.value)
    assert "truncated or corrupted" in str(info.value)
    with pytest.raises(FileNotFoundError, match="save one with save_model"):
        train.load_model(mlp(8), tmp_path / "missing.pt")


def test_a_failed_save_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    path = train.save_model(mlp(8), tmp_path / "mlp.pt")
    saved = sha(path)

    def disk_full(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a checkpo")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train.save_model(mlp(8), path)
    assert sha(path) == saved
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.pt"]


# ------------------------------------------------------------ a full disk, a file as data root


def test_a_full_disk_while_fetching_leaves_nothing_half_written(root, monkeypatch):
    data.fetch("kaggle_house")
    before = snapshot(root)
    real_copy = shutil.copyfileobj

    def disk_full(src, dst, *args, **kwargs):
        dst.write(src.read(1000))  # part of the file is written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sources.shutil, "copyfileobj", disk_full)
    with pytest.raises(DataError) as info:
        data.fetch("time_machine")
    monkeypatch.setattr(sources.shutil, "copyfileobj", real_copy)
    message = str(info.value)
    assert "No space left on device" in message and str(root) in message
    assert "free some space, or set D2L_DATA_DIR to a folder on a disk with room" in message
    assert snapshot(root) == before and leftovers(root) == []
    assert len(data.read_time_machine()) == 3221  # once there is room, it just works


def test_a_data_root_that_is_a_file(tmp_path, monkeypatch, mirror):
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("my notes")
    monkeypatch.setenv("D2L_DATA_DIR", str(not_a_folder))
    monkeypatch.setenv("D2L_DATA_MIRROR", str(mirror))
    with pytest.raises(DataError) as info:
        data.fetch("time_machine")
    message = str(info.value)
    assert f"the data root {not_a_folder} or a folder in it is not a folder" in message
    assert "set D2L_DATA_DIR to a folder" in message
    assert not_a_folder.read_text() == "my notes"


def test_an_empty_subset_is_refused_on_both_paths():
    for spec in REGISTRY["fashion_mnist"].files:
        _real_file("fashion_mnist", spec)  # skips without the real data
    for fast in (True, False):
        with pytest.raises(ValueError, match="asked for 0 examples, the split has 60000"):
            data.fashion_mnist(64, n_train=0, fast=fast, device="cpu")


# ------------------------------------------------------------ refusals that say what to do


class WideLM(nn.Module):
    """A language model whose output layer is built for another vocabulary."""

    def __init__(self, vocab_size: int, out: int):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, 8)
        self.out = nn.Linear(8, out)

    def begin_state(self, batch_size, device):
        return None

    def forward(self, X, state):
        return self.out(self.emb(X)), state


def _refusals():
    loader, vocab = lm_data()
    X, y = torch.rand(8, 4), torch.randint(0, 3, (8,))
    per_row_twice = lambda y_hat, y: nn.functional.cross_entropy(  # noqa: E731
        y_hat, y, reduction="none").repeat(2)
    return {
        "lm-output-width": (lambda: train.train_lm(WideLM(len(vocab), 5), loader, vocab,
                                                   lr=1.0, epochs=1, **QUIET),
                            f"the model predicts 5 tokens but the vocabulary has {len(vocab)}"),
        "loss-shape": (lambda: train.fit(nn.Linear(4, 3), [(X, y)], None, epochs=1, lr=0.1,
                                         loss=per_row_twice, **QUIET),
                       "loss returned shape (16,) for a batch of 8"),
        "subset": (lambda: data.tensors.subset_size(100, 500),
                   "asked for 500 examples, the split has 100"),
        "val-fraction": (lambda: data.time_machine(4, 10, max_tokens=2000, val_fraction=1.5,
                                                   device="cpu"),
                         "val_fraction=1.5 leaves no train or no validation text"),
        "loader-lengths": (lambda: data.TensorLoader(X, y[:5], batch_size=4, device="cpu"),
                           "tensors differ in length"),
    }


@pytest.mark.parametrize("case", list(_refusals()))
def test_a_refusal_says_what_to_do(case):
    run, what = _refusals()[case]
    with pytest.raises(ValueError) as info:
        run()
    message = str(info.value)
    assert what in message and "Hint:" in message, message
