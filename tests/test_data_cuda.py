"""The data loaders on a CUDA device: batches made, shuffled, converted and augmented there.

Skipped, with the reason, on machines without CUDA (the course's CI runs on the CPU).
"""

from __future__ import annotations

import pytest
import torch

from d2lutils.data import SeqLoader, TensorLoader, random_crop, random_flip

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")


def test_tensor_loader_on_cuda():
    X = torch.arange(100, dtype=torch.uint8).reshape(100, 1)
    y = torch.arange(100)
    loader = TensorLoader(X, y, batch_size=16, shuffle=True, device="cuda",
                          transform=lambda x: x.float() / 255)
    assert all(t.device.type == "cuda" for t in loader.tensors)
    seen = []
    for Xb, yb in loader:
        assert Xb.device.type == yb.device.type == "cuda" and Xb.dtype == torch.float32
        torch.testing.assert_close(Xb[:, 0] * 255, yb.float())  # rows stay paired
        seen += yb.tolist()
    assert sorted(seen) == list(range(100)) and len(seen) == 100
    ordered = TensorLoader(X, y, batch_size=16, device=CUDA)
    _, yb = next(iter(ordered))
    yb.zero_()  # a batch is a copy, on the device too
    assert next(iter(ordered))[1].tolist() == list(range(16))


def test_augmentation_on_cuda_matches_its_definition():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 8, 8, device=CUDA)
    flipped = random_flip(x)
    assert flipped.device.type == "cuda"
    for o, i in zip(flipped, x, strict=True):
        assert torch.equal(o, i) or torch.equal(o, i.flip(-1))
    cropped = random_crop(x, padding=2)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for b in range(len(x)):
        assert any(torch.equal(cropped[b], padded[b, :, dy:dy + 8, dx:dx + 8])
                   for dy in range(5) for dx in range(5))


@pytest.mark.parametrize("random_iter", [False, True])
def test_seq_loader_on_cuda(random_iter):
    loader = SeqLoader(list(range(1001)), 2, 10, random_iter=random_iter, device="cuda")
    batches = list(loader)
    assert len(batches) == len(loader)
    for X, Y in batches:
        assert X.device.type == Y.device.type == "cuda"
        assert torch.equal(Y, X + 1)
