"""Device selection with mocked accelerators, D2L_DEVICE, seeding, and the CPU allocator."""

import os
import platform
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from d2l import torch as d2l

import d2lutils


@pytest.fixture
def machine(monkeypatch):
    """Pretend this machine has `cuda` GPUs and/or Apple MPS: machine(cuda=2, mps=True)."""
    monkeypatch.delenv("D2L_DEVICE", raising=False)

    def pretend(cuda: int = 0, mps: bool = False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return pretend


@pytest.mark.parametrize("cuda, mps, expected", [
    (1, True, "cuda"),
    (2, False, "cuda"),
    (0, True, "mps"),
    (0, False, "cpu"),
])
def test_order_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert d2lutils.device() == torch.device(expected)


@pytest.mark.parametrize("name, expected", [
    ("cpu", "cpu"), ("CPU", "cpu"), (" cuda ", "cuda"), ("cuda:1", "cuda:1"), ("mps", "mps"),
])
def test_d2l_device_override(machine, monkeypatch, name, expected):
    machine(cuda=2, mps=True)
    monkeypatch.setenv("D2L_DEVICE", name)
    assert d2lutils.device() == torch.device(expected)


@pytest.mark.parametrize("name, message", [
    ("cuda", "CUDA is not available"),
    ("cuda:0", "CUDA is not available"),
    ("mps", "MPS is not available"),
    ("tpu", "not a device name"),
    ("meta", "not supported"),
])
def test_d2l_device_unavailable_is_a_clear_error(machine, monkeypatch, name, message):
    machine(cuda=0, mps=False)
    monkeypatch.setenv("D2L_DEVICE", name)
    with pytest.raises(RuntimeError, match=message) as err:
        d2lutils.device()
    assert f"D2L_DEVICE={name}" in str(err.value)
    if "available" in message:
        assert "unset D2L_DEVICE or set it to cpu" in str(err.value)


def test_d2l_device_gpu_index_out_of_range(machine, monkeypatch):
    machine(cuda=2)
    monkeypatch.setenv("D2L_DEVICE", "cuda:2")
    with pytest.raises(RuntimeError, match=r"only 2 CUDA device\(s\) \(cuda:0..cuda:1\)"):
        d2lutils.device()


@pytest.mark.parametrize("cuda", [0, 1, 3])
def test_try_gpu_and_try_all_gpus_as_d2l(machine, cuda):
    machine(cuda=cuda)
    for i in range(4):
        assert d2lutils.try_gpu(i) == d2l.try_gpu(i)
    if cuda:  # without a GPU d2l 1.0.3 returns [], the classic d2l (and d2lutils) [cpu]
        assert d2lutils.try_all_gpus() == d2l.try_all_gpus()
    expected = [torch.device(f"cuda:{i}") for i in range(cuda)] or [torch.device("cpu")]
    assert d2lutils.try_all_gpus() == expected
    assert d2lutils.try_gpu(cuda) == torch.device("cpu")


def _draws():
    return (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(),
            torch.nn.Linear(4, 2).weight.tolist())


def test_set_seed_is_reproducible():
    d2lutils.set_seed(123)
    first = _draws()
    d2lutils.set_seed(123)
    assert _draws() == first
    d2lutils.set_seed(124)
    other = _draws()
    assert all(a != b for a, b in zip(other, first, strict=True))


@pytest.fixture
def cudnn_flags():
    """Restore cuDNN's global flags after the test."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    yield torch.backends.cudnn
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def test_set_seed_keeps_cudnn_autotuning_unless_determinism_is_asked_for(cudnn_flags):
    """Seeding alone must not slow every later convolution; determinism is a choice."""
    cudnn_flags.benchmark, cudnn_flags.deterministic = True, False
    d2lutils.set_seed(0)
    assert cudnn_flags.benchmark and not cudnn_flags.deterministic
    d2lutils.set_seed(0, deterministic=True)
    assert cudnn_flags.deterministic and not cudnn_flags.benchmark


_FAULTS = """
import ctypes, resource, torch
calls = []
class Spy(ctypes.CDLL):  # records every lookup of mallopt in the C library
    def __getattr__(self, name):
        if name == "mallopt":
            calls.append(name)
        return super().__getattr__(name)
ctypes.CDLL = Spy
import d2lutils
from d2lutils import train

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

def per_alloc():  # allocate, touch and free 64 MiB, as a big activation tensor would be
    counts = []
    for _ in range(12):
        before = faults()
        t = torch.empty(16 << 20)
        t.fill_(1.0)
        del t
        counts.append(faults() - before)
    return min(counts[2:])

imported = per_alloc()
X, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
train.fit(torch.nn.Linear(4, 2), [(X, y)], None, epochs=1, lr=0.1, device="cpu", plot=False,
          progress=False)
print(imported, per_alloc(), len(calls), d2lutils.tune_cpu_allocator())
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
@pytest.mark.parametrize("setting", ["1", "0"])
def test_fit_on_the_cpu_tunes_the_allocator_and_stops_the_page_faults(setting):
    """Import changes nothing; fit on the CPU tunes glibc, and then a freed 64 MiB block is
    reused instead of faulting its pages in anew. D2L_TUNE_MALLOC=0 opts out."""
    env = {**os.environ, "D2L_TUNE_MALLOC": setting, "D2L_DEVICE": "cpu"}
    out = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    imported, trained, mallopt_calls, tuned = int(out[0]), int(out[1]), int(out[2]), out[3]
    # glibc maps blocks over 32 MiB fresh every time: 16,384 pages (32 with huge pages)
    assert imported >= 16  # import d2lutils did not touch the allocator
    if setting == "1":
        assert tuned == "True" and mallopt_calls == 1 and trained <= 2
    else:
        assert tuned == "False" and mallopt_calls == 0 and trained >= 16
