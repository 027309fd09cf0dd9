"""Vision datasets: Fashion-MNIST and CIFAR-10, decoded once into tensors, or as Datasets.

Both fit in memory many times over, so they are read once into uint8 tensors and served by
a `TensorLoader` on the training device; each batch is converted to float (and augmented)
there. The `DataLoader` path over PIL images stays available (``fashion_mnist(fast=False)``,
`fashion_mnist_dataset`) because the notebooks teach it; notebook 07 writes its own CIFAR-10
`Dataset` over `cifar10_arrays`.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils import data as tud

from d2lutils.data.augment import random_crop, random_flip
from d2lutils.data.sources import DataError, data_root, fetch, is_standin
from d2lutils.data.tensors import TensorLoader, TensorTransform, subset_size

# ---------------------------------------------------------------- Fashion-MNIST

FASHION_MNIST_LABELS = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]


def fashion_mnist_labels(indices: Iterable[int] | torch.Tensor) -> list[str]:
    """Text labels of Fashion-MNIST class indices (ints or a tensor)."""
    return [FASHION_MNIST_LABELS[int(i)] for i in indices]


def _read_idx(path) -> np.ndarray:
    """Read an (uncompressed) idx file: big-endian header, then uint8 data."""
    raw = np.fromfile(path, dtype=np.uint8)
    ndim = int(raw[3])
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i].tobytes(), "big") for i in range(ndim)]
    return raw[4 + 4 * ndim:].reshape(dims)


@functools.lru_cache(maxsize=2)
def _fashion_cached(raw: str, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = _read_idx(f"{raw}/{prefix}-images-idx3-ubyte")
    labels = _read_idx(f"{raw}/{prefix}-labels-idx1-ubyte")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _fashion_split(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The cached tensors of a split: never handed out, since an in-place edit would stick."""
    return _fashion_cached(str(fetch("fashion_mnist") / "raw"), "train" if train else "t10k")


def fashion_mnist_tensors(train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The Fashion-MNIST split as (uint8 images (N, 28, 28), int64 labels (N,)), on the CPU.

    The files are decoded once per process; each call returns a fresh copy, yours to edit.
    """
    X, y = _fashion_split(train)
    return X.clone(), y.clone()


def fashion_mnist_dataset(train: bool = True, transform: Callable | None = None) -> tud.Dataset:
    """torchvision's `FashionMNIST` dataset over the verified files (PIL images; no download)."""
    import torchvision  # imported on first use: it is slow to import and the fast path needs none

    fetch("fashion_mnist")
    return torchvision.datasets.FashionMNIST(
        root=str(data_root()), train=train, transform=transform, download=False
    )


def _to_float_images(resize: int | tuple[int, int] | None) -> TensorTransform:
    size = (resize, resize) if isinstance(resize, int) else resize

    def transform(x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(1).float().div_(255)
        if size is not None and tuple(x.shape[-2:]) != tuple(size):
            # antialiasing (as PIL's resize does) matters only when an axis shrinks; asking
            # for it when enlarging changes nothing, and MPS before torch 2.7 lacks it
            shrinks = size[0] < x.shape[-2] or size[1] < x.shape[-1]
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                              antialias=shrinks)
        return x

    return transform


def fashion_mnist(
    batch_size: int,
    resize: int | tuple[int, int] | None = None,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    device: torch.device | str | None = None,
    fast: bool = True,
    num_workers: int = 0,
) -> tuple[TensorLoader, TensorLoader] | tuple[tud.DataLoader, tud.DataLoader]:
    """Fashion-MNIST as ``(train_iter, test_iter)``: images (B, 1, 28, 28) in [0, 1], labels int64.

    `n_train`/`n_test` take the first examples of each split (None: all 60,000 / 10,000).
    ``fast=True`` serves batches from tensors on `device` (default: `d2lutils.device()`);
    ``fast=False`` builds the classic `DataLoader` over torchvision's dataset with
    ``ToTensor`` (and ``Resize``), which decodes one PIL image at a time.
    """
    if not fast:
        from torchvision import transforms  # on first use, as above

        steps = [transforms.Resize(resize)] if resize else []
        trans = transforms.Compose(steps + [transforms.ToTensor()])
        loaders = []
        for train, n in ((True, n_train), (False, n_test)):
            ds = fashion_mnist_dataset(train, trans)
            ds = tud.Subset(ds, range(subset_size(len(ds), n))) if n is not None else ds
            loaders.append(tud.DataLoader(ds, batch_size, shuffle=train, num_workers=num_workers))
        return tuple(loaders)
    loaders = []
    for train, n in ((True, n_train), (False, n_test)):
        X, y = _fashion_split(train)
        k = subset_size(len(X), n)  # each loader holds its own copy of the k examples
        loaders.append(TensorLoader(X[:k].clone(), y[:k].clone(), batch_size=batch_size,
                                    shuffle=train, device=device,
                                    transform=_to_float_images(resize)))
    return tuple(loaders)


# ---------------------------------------------------------------- CIFAR-10

CIFAR10_LABELS = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
STANDIN_NOTE = (
    "NOTE: stand-in data, not CIFAR-10 (generated for offline tests; results on it are not "
    "CIFAR-10 results). Run `make data DATASETS=cifar10` for the real data."
)


# What a CIFAR-10 batch may reference: NumPy arrays (as Python 2 and today's NumPy pickle
# them) and the bytes helper of protocol 2. Anything else, such as a function to call, is
# refused: the stand-in folder is not checksummed, and pickle.load would run any code in it.
_CIFAR_PICKLE_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


def read_cifar_batch(path: Path) -> dict:
    """Read a CIFAR-10 batch file: a pickled dict of arrays and lists, and nothing else."""
    class _Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            if (module, name) not in _CIFAR_PICKLE_GLOBALS:
                raise DataError(
                    f"{path}: refused to load {module}.{name}; a CIFAR-10 batch holds only "
                    "arrays and lists (the file is not CIFAR-10 data: delete the folder and "
                    "run `make data DATASETS=cifar10`)"
                )
            return super().find_class(module, name)

    with open(path, "rb") as f:
        return _Unpickler(f, encoding="latin1").load()  # the files were pickled by Python 2


def _cifar10_names(train: bool) -> list[str]:
    return [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]


@functools.lru_cache(maxsize=2)
def _cifar10_cached(folder: str, train: bool, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Read a split; `stamp` (size and mtime of each file) makes a changed file read again."""
    batches = [read_cifar_batch(Path(folder) / n) for n in _cifar10_names(train)]
    X = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    y = np.concatenate([np.asarray(b["labels"], dtype=np.int64) for b in batches])
    return X.transpose(0, 2, 3, 1).copy(), y


def cifar10_arrays(train: bool = True, announce: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 split as NumPy arrays: uint8 images (N, 32, 32, 3) and int64 labels (N,).

    Prints a note every time the data is a generated stand-in rather than CIFAR-10
    (`announce` False leaves that to the caller). The files are read once per process;
    each call returns a fresh copy, yours to edit.
    """
    X, y = _cifar10_split(train, announce)
    return X.copy(), y.copy()


def _cifar10_split(train: bool, announce: bool) -> tuple[np.ndarray, np.ndarray]:
    """The cached arrays of a split: never handed out, since an in-place edit would stick."""
    folder = fetch("cifar10")
    standin = is_standin("cifar10")
    if announce and standin:
        print(STANDIN_NOTE)
    try:
        stats = [(folder / n).stat() for n in _cifar10_names(train)]
        stamp = tuple((st.st_size, st.st_mtime_ns, st.st_ino) for st in stats)
        return _cifar10_cached(str(folder), train, stamp)
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError) as err:
        if not standin:  # the real files were verified by fetch: this is not a damaged copy
            raise
        raise DataError(
            f"the CIFAR-10 stand-in in {folder} is incomplete or damaged ({err}). Write it "
            "again with `python -m d2lutils.data standin cifar10` (or `make test-data`), or "
            "get the real data with `make data DATASETS=cifar10`."
        ) from err


def _cifar_transform(normalize: bool, augment: bool, device: torch.device) -> TensorTransform:
    mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1)

    def transform(x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255)
        if normalize:
            x = (x - mean) / std
        if augment:
            x = random_flip(random_crop(x))
        return x

    return transform


def cifar10(
    batch_size: int,
    *,
    augment: bool = False,
    n_train: int | None = None,
    n_test: int | None = None,
    device: torch.device | str | None = None,
    normalize: bool = True,
) -> tuple[TensorLoader, TensorLoader]:
    """CIFAR-10 as fast in-memory ``(train_iter, test_iter)``: images (B, 3, 32, 32), labels int64.

    Images are kept as uint8 on `device` and converted per batch; `normalize` uses the
    per-channel training mean and std; `augment` adds random crops (padding 4) and flips to
    the training batches. Announces a stand-in whenever one is loaded.
    """
    loaders = []
    for train, n in ((True, n_train), (False, n_test)):
        X, y = _cifar10_split(train, announce=train)
        k = subset_size(len(X), n)  # copied: (N, C, H, W) for the loader, which owns them
        images = torch.from_numpy(X[:k].transpose(0, 3, 1, 2).copy())
        loader = TensorLoader(images, torch.from_numpy(y[:k].copy()), batch_size=batch_size,
                              shuffle=train, device=device)
        loader.transform = _cifar_transform(normalize, augment and train, loader.device)
        loaders.append(loader)
    return tuple(loaders)
