"""The loaders on the real data (and on a CIFAR-10 stand-in written into a temporary root).

Fashion-MNIST, Kaggle house and airfoil come from the normal data root (`make test-data`
fills it; a mirror fills it on first use). The CIFAR-10 stand-in is written into a
temporary data root so the test never depends on what is in data/.
"""

import pickle

import numpy as np
import pytest
import torch

import d2lutils
from d2lutils.data import (
    CIFAR10_LABELS,
    FASHION_MNIST_LABELS,
    TensorLoader,
    cifar10,
    cifar10_arrays,
    fashion_mnist,
    fashion_mnist_dataset,
    fashion_mnist_labels,
    fashion_mnist_tensors,
    is_standin,
    load_array,
    random_crop,
    random_flip,
)
from d2lutils.data.standin import write_cifar10_standin

CPU = torch.device("cpu")


# ------------------------------------------------------------------ Fashion-MNIST

def test_fashion_mnist_tensors_shapes_counts_and_statistics():
    X, y = fashion_mnist_tensors(train=True)
    assert X.shape == (60000, 28, 28) and X.dtype == torch.uint8
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == [6000] * 10
    pixels = X.double() / 255  # the published statistics of the training images
    assert pixels.mean().item() == pytest.approx(0.2860, abs=5e-5)
    assert pixels.std().item() == pytest.approx(0.3530, abs=5e-5)

    Xt, yt = fashion_mnist_tensors(train=False)
    assert Xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert torch.bincount(yt, minlength=10).tolist() == [1000] * 10
    assert not torch.equal(X[:100], Xt[:100])


def test_fashion_mnist_labels():
    assert len(FASHION_MNIST_LABELS) == 10
    assert fashion_mnist_labels(torch.tensor([0, 9, 1])) == ["t-shirt", "ankle boot", "trouser"]


def test_fashion_mnist_fast_loader():
    train, test = fashion_mnist(256, device=CPU)
    assert len(train) == 235 and len(test) == 40  # ceil(60000/256), ceil(10000/256)
    X, y = next(iter(train))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32 and X.device == CPU
    assert y.shape == (256,) and y.dtype == torch.int64
    assert 0 <= X.min() and X.max() <= 1
    # the training set is reshuffled every epoch, the test set is read in order
    first, second = next(iter(train))[1], next(iter(train))[1]
    assert not torch.equal(first, second)
    Xt, yt = next(iter(test))
    Xr, yr = fashion_mnist_tensors(train=False)
    assert torch.equal(Xt[:, 0], Xr[:256].float() / 255) and torch.equal(yt, yr[:256])
    assert sum(len(b[1]) for b in test) == 10000


def test_fast_and_dataloader_paths_agree():
    _, fast = fashion_mnist(100, device=CPU, n_test=300)
    _, slow = fashion_mnist(100, fast=False, n_test=300)
    assert isinstance(slow, torch.utils.data.DataLoader)
    for (Xa, ya), (Xb, yb) in zip(fast, slow, strict=True):
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb)
    # the torchvision dataset over the same files: same image and label at the same index
    ds = fashion_mnist_dataset(train=True)
    X, y = fashion_mnist_tensors(train=True)
    assert len(ds) == 60000
    for i in (0, 1234, 59999):
        img, label = ds[i]
        assert np.array_equal(np.asarray(img), X[i].numpy()) and label == int(y[i])


@pytest.mark.parametrize("size", [64, (20, 24)])
def test_fashion_mnist_resize(size):
    _, fast = fashion_mnist(32, resize=size, device=CPU, n_test=32)
    _, slow = fashion_mnist(32, resize=size, fast=False, n_test=32)
    Xa, _ = next(iter(fast))
    Xb, _ = next(iter(slow))
    h, w = (size, size) if isinstance(size, int) else size
    assert Xa.shape == Xb.shape == (32, 1, h, w)
    # the same bilinear resize; PIL rounds to 8 bits on the way
    assert (Xa - Xb).abs().max().item() <= 1.5 / 255


def test_fashion_mnist_subsets():
    train, test = fashion_mnist(64, n_train=1000, n_test=100, device=CPU)
    assert train.num_examples == 1000 and test.num_examples == 100
    assert len(train) == 16 and len(test) == 2
    with pytest.raises(ValueError, match="asked for 70000"):
        fashion_mnist(64, n_train=70000, device=CPU)


# ------------------------------------------------------------------ TensorLoader

def test_tensor_loader_in_order():
    X, y = torch.arange(10).reshape(10, 1).float(), torch.arange(10)
    loader = TensorLoader(X, y, batch_size=4, device=CPU)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(b[0].device == CPU for b in batches)
    assert list(loader)[0][1].tolist() == [0, 1, 2, 3]  # re-iterable


def test_tensor_loader_drop_last():
    loader = TensorLoader(torch.arange(10), batch_size=4, device=CPU, drop_last=True)
    assert len(loader) == 2
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(TensorLoader(torch.arange(8), batch_size=4, device=CPU, drop_last=True)) == 2


def test_tensor_loader_shuffle_keeps_pairs_and_covers_every_row():
    torch.manual_seed(0)
    X = torch.arange(100).float().reshape(100, 1) * 10
    y = torch.arange(100)
    loader = TensorLoader(X, y, batch_size=16, shuffle=True, device=CPU)
    epochs = []
    for _ in range(2):
        seen = []
        for Xb, yb in loader:
            assert torch.equal(Xb[:, 0], yb.float() * 10)  # rows stay paired
            seen += yb.tolist()
        assert sorted(seen) == list(range(100))  # each row once per epoch
        epochs.append(seen)
    assert epochs[0] != epochs[1] and epochs[0] != list(range(100))


def test_tensor_loader_transform_and_device():
    X = torch.full((6, 2), 255, dtype=torch.uint8)
    y = torch.arange(6)
    loader = TensorLoader(X, y, batch_size=4, device="cpu", transform=lambda x: x.float() / 255)
    assert loader.device == CPU
    Xb, yb = next(iter(loader))
    assert Xb.dtype == torch.float32 and torch.all(Xb == 1) and torch.equal(yb, y[:4])
    assert loader.tensors[0].dtype == torch.uint8  # stored untouched


def test_tensor_loader_default_device_and_errors(monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    assert TensorLoader(torch.zeros(3), batch_size=2).device == CPU
    with pytest.raises(ValueError, match="differ in length"):
        TensorLoader(torch.zeros(3), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(torch.zeros(3), batch_size=0)
    with pytest.raises(ValueError):
        TensorLoader(batch_size=2)


def test_load_array_like_d2l():
    X, y = torch.arange(20).float().reshape(10, 2), torch.arange(10)
    loader = load_array((X, y), 3, is_train=False)
    assert isinstance(loader, torch.utils.data.DataLoader)
    assert [b[1].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    shuffled = torch.cat([b[1] for b in load_array((X, y), 3)])
    assert sorted(shuffled.tolist()) == list(range(10))


# ------------------------------------------------------------------ CIFAR-10 stand-in

@pytest.fixture(scope="module")
def standin_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("standin-root")
    write_cifar10_standin(per_batch=200, n_test=100, root=root)
    return root


@pytest.fixture
def standin(standin_root, monkeypatch):
    monkeypatch.setenv("D2L_DATA_DIR", str(standin_root))
    return standin_root / "cifar-10-batches-py"


def _unpickle(path):
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def test_standin_on_disk_format(standin):
    names = sorted(p.name for p in standin.iterdir())
    assert names == sorted(["STANDIN.txt", "batches.meta", "test_batch"]
                           + [f"data_batch_{i}" for i in range(1, 6)])
    assert "not the real dataset" in (standin / "STANDIN.txt").read_text()
    assert is_standin("cifar10")
    for name, n in [(f"data_batch_{i}", 200) for i in range(1, 6)] + [("test_batch", 100)]:
        batch = _unpickle(standin / name)
        assert set(batch) == {"batch_label", "labels", "data", "filenames"}
        assert isinstance(batch["data"], np.ndarray)
        assert batch["data"].dtype == np.uint8 and batch["data"].shape == (n, 3072)
        assert isinstance(batch["labels"], list) and len(batch["labels"]) == n
        assert all(isinstance(v, int) and 0 <= v < 10 for v in batch["labels"])
        assert np.bincount(batch["labels"]).tolist() == [n // 10] * 10
        assert len(batch["filenames"]) == n and isinstance(batch["batch_label"], str)
    meta = _unpickle(standin / "batches.meta")
    assert meta["label_names"] == CIFAR10_LABELS and meta["num_vis"] == 3072


def test_standin_note_printed_on_every_load(standin, capsys):
    for _ in range(2):
        cifar10(50, device=CPU)
        assert "stand-in data, not CIFAR-10" in capsys.readouterr().out
    cifar10_arrays(train=False)
    assert "stand-in data, not CIFAR-10" in capsys.readouterr().out


def test_cifar10_arrays_match_the_pickled_rows(standin):
    X, y = cifar10_arrays(train=True)
    assert X.shape == (1000, 32, 32, 3) and X.dtype == np.uint8
    assert y.shape == (1000,) and y.dtype == np.int64
    batch = _unpickle(standin / "data_batch_2")  # rows 200..399, channel-major 3 x 1024
    row = batch["data"][7].reshape(3, 32, 32).transpose(1, 2, 0)
    assert np.array_equal(X[207], row) and y[207] == batch["labels"][7]
    Xt, yt = cifar10_arrays(train=False)
    test = _unpickle(standin / "test_batch")
    assert np.array_equal(Xt[3], test["data"][3].reshape(3, 32, 32).transpose(1, 2, 0))
    assert yt[3] == test["labels"][3] and len(Xt) == 100


def test_cifar10_loaders(standin):
    train, test = cifar10(64, device=CPU, normalize=False)
    X, y = next(iter(test))
    assert X.shape == (64, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    Xr, yr = cifar10_arrays(train=False)
    expected = torch.from_numpy(Xr[:64]).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(X, expected) and torch.equal(y, torch.from_numpy(yr[:64]))
    assert len(train) == 16 and train.num_examples == 1000
    Xn, _ = next(iter(cifar10(64, device=CPU)[1]))  # normalized per channel
    mean = torch.tensor(d2lutils.data.CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(d2lutils.data.CIFAR10_STD).view(1, 3, 1, 1)
    assert torch.allclose(Xn, (expected - mean) / std, atol=1e-6)


def test_cifar10_augment_keeps_shapes_and_spares_the_test_set(standin):
    torch.manual_seed(0)
    train, test = cifar10(100, augment=True, device=CPU, n_train=200, n_test=100)
    plain_train, plain_test = cifar10(100, device=CPU, n_train=200, n_test=100)
    for X, y in train:
        assert X.shape == (100, 3, 32, 32) and X.dtype == torch.float32 and y.shape == (100,)
    assert torch.equal(next(iter(test))[0], next(iter(plain_test))[0])
    # same images in order, with augmentation they differ from the plain ones
    train.shuffle = plain_train.shuffle = False
    assert not torch.equal(next(iter(train))[0], next(iter(plain_train))[0])


def test_random_crop_is_a_window_of_the_padded_image():
    torch.manual_seed(0)
    x = torch.arange(64 * 2 * 6 * 5, dtype=torch.float32).reshape(64, 2, 6, 5)
    assert torch.equal(random_crop(x, padding=0), x)
    out = random_crop(x, padding=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    offsets = set()
    for b in range(len(x)):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if torch.equal(out[b], padded[b, :, dy:dy + 6, dx:dx + 5])]
        assert found, f"image {b} is not a window of its padded image (same for all channels)"
        offsets.add(found[0])
    assert len(offsets) > 5  # each image gets its own offset


def test_random_flip_mirrors_about_half():
    torch.manual_seed(0)
    x = torch.rand(400, 3, 4, 4)
    out = random_flip(x)
    same = [torch.equal(o, i) for o, i in zip(out, x, strict=True)]
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)]
    assert all(s != f for s, f in zip(same, flipped, strict=True))  # exactly one of the two
    assert 0.4 < sum(flipped) / len(x) < 0.6


# ------------------------------------------------------------------ tables

def test_kaggle_house_shapes():
    train, test = d2lutils.data.kaggle_house()
    assert train.shape == (1460, 81) and test.shape == (1459, 80)
    assert list(train.columns[:-1]) == list(test.columns)
    assert train.columns[0] == "Id" and train.columns[-1] == "SalePrice"
    assert train["SalePrice"].min() > 0 and test["Id"].iloc[0] == 1461


def test_airfoil_equals_d2l_get_data_ch11(monkeypatch):
    from d2l import torch as d2l

    path = d2lutils.data.fetch("airfoil") / "airfoil_self_noise.dat"
    monkeypatch.setattr(d2l, "download", lambda *args, **kwargs: str(path))  # no network
    ref_iter, ref_dim = d2l.get_data_ch11(10, 1500)
    ours_iter, dim = d2lutils.data.airfoil(10, 1500)
    assert dim == ref_dim == 5
    for ours, ref in zip(ours_iter.dataset.tensors, ref_iter.dataset.tensors, strict=True):
        assert ours.dtype == torch.float32 and torch.equal(ours, ref)
    X, y = d2lutils.data.airfoil_tensors(n=1503)
    assert X.shape == (1503, 5) and y.shape == (1503,)
    assert torch.allclose(X.mean(0), torch.zeros(5), atol=1e-4)  # float32 arithmetic
    assert torch.allclose(X.std(0, unbiased=False), torch.ones(5), atol=1e-4)
    assert len(ours_iter) == 150


def test_synthetic_linear_statistics():
    torch.manual_seed(0)
    w, b = torch.tensor([2.0, -3.4]), 4.2
    X, y = d2lutils.data.synthetic_linear(w, b, 20000, noise=0.01)
    assert X.shape == (20000, 2) and y.shape == (20000, 1)
    assert torch.allclose(X.mean(0), torch.zeros(2), atol=0.03)
    assert torch.allclose(X.std(0), torch.ones(2), atol=0.03)
    residual = y[:, 0] - (X @ w + b)
    assert residual.std().item() == pytest.approx(0.01, rel=0.05)
    assert abs(residual.mean().item()) < 1e-3
    ones = torch.cat([X, torch.ones(len(X), 1)], 1)
    coef = torch.linalg.lstsq(ones, y).solution[:, 0]
    assert torch.allclose(coef, torch.tensor([2.0, -3.4, 4.2]), atol=1e-3)


def test_resize_asks_for_antialias_only_when_shrinking(monkeypatch):
    # antialiasing changes nothing when enlarging, and MPS before torch 2.7 lacks it
    from torch.nn import functional as F

    real, asked = F.interpolate, []

    def spy(*args, **kwargs):
        asked.append(kwargs.get("antialias", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "interpolate", spy)
    torch.manual_seed(0)
    x = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    floats = x.unsqueeze(1).float() / 255
    for size, shrinks in [(64, False), ((20, 24), True), ((20, 64), True), ((28, 40), False)]:
        asked.clear()
        _, test = fashion_mnist(8, resize=size, device=CPU, n_test=8)
        test.tensors = (x, test.tensors[1])
        (out, _), = list(test)
        assert asked == [shrinks], size
        hw = (size, size) if isinstance(size, int) else size
        expected = real(floats, size=hw, mode="bilinear", align_corners=False, antialias=True)
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)  # the same pixels


def test_editing_loaded_tensors_in_place_spares_later_loads():
    X, y = fashion_mnist_tensors(train=False)
    pristine_X, pristine_y = X.clone(), y.clone()
    X[0] = 0  # what a learner may well do to the tensors they were given
    X.mul_(2)
    y.add_(1)
    X2, y2 = fashion_mnist_tensors(train=False)
    assert torch.equal(X2, pristine_X) and torch.equal(y2, pristine_y)

    _, test = fashion_mnist(100, device=CPU, n_test=300)
    test.tensors[1].zero_()  # one loader's data is its own
    _, again = fashion_mnist(100, device=CPU, n_test=300)
    assert torch.equal(again.tensors[1], pristine_y[:300])
    _, yb = next(iter(again))  # and a batch is the learner's, as from a DataLoader
    yb.add_(1)
    assert torch.equal(next(iter(again))[1], pristine_y[:100])
    assert torch.equal(fashion_mnist_tensors(train=False)[1], pristine_y)


def test_tensor_loader_batches_do_not_alias_the_loader():
    X = torch.arange(10).float()
    loader = TensorLoader(X, batch_size=4, device=CPU)
    for (xb,) in loader:
        xb.mul_(0)
    assert torch.equal(X, torch.arange(10).float())
    assert [b[0].tolist() for b in loader][0] == [0, 1, 2, 3]


def test_editing_cifar10_arrays_in_place_spares_later_loads(standin):
    X, y = cifar10_arrays(train=False, announce=False)
    pristine_X, pristine_y = X.copy(), y.copy()
    X[0] = 0
    X *= 2
    y += 1
    X2, y2 = cifar10_arrays(train=False, announce=False)
    assert np.array_equal(X2, pristine_X) and np.array_equal(y2, pristine_y)
    _, test = cifar10(50, device=CPU, normalize=False)
    expected = torch.from_numpy(pristine_X[:50]).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(next(iter(test))[0], expected)


def test_cifar10_arrays_see_a_batch_file_that_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DATA_DIR", str(tmp_path))
    folder = write_cifar10_standin(per_batch=10, n_test=10)
    X, _ = cifar10_arrays(train=False, announce=False)
    batch = _unpickle(folder / "test_batch")
    batch["data"] = 255 - batch["data"]
    with open(folder / "test_batch", "wb") as f:  # batches.meta stays as it was
        pickle.dump(batch, f, protocol=2)
    X2, _ = cifar10_arrays(train=False, announce=False)
    assert np.array_equal(X2, 255 - X)
