"""Reading speed of Fashion-MNIST: a `DataLoader` over torchvision vs the in-memory loader.

Notebook 04 teaches both ways of reading Fashion-MNIST and uses the second:

* torchvision's ``FashionMNIST`` dataset with ``ToTensor`` (one PIL image decoded and converted
  per example) behind a ``DataLoader`` (shuffled, default collation, `--workers` processes),
  as the d2l book reads it;
* ``d2lutils.data.fashion_mnist`` (``fast=True``): the whole split held as one uint8 tensor on
  the device, each batch a slice of it converted to floats there.

Both sides read the same first `--n` training images, in shuffled batches of `--batch-size`,
and deliver every batch on `--device` (the DataLoader's batches are copied there, as a training
loop would do). Each side reads `--repeats` epochs and keeps its best one, the epoch least
disturbed by other programs (as ``timeit`` does). Before timing, the script checks that the two
sides read identical images and labels. It prints examples per second for each side, and its
last line is the ratio in-memory / DataLoader, measured in this run, with the device. Building
either loader (reading the files, moving the tensors to the device) is not timed.
See benchmarks/README.md.

    .venv/bin/python benchmarks/bench_reading.py [--n 20000] [--batch-size 256] [--device cpu]
        [--workers 0 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Iterable

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

import d2lutils
from d2lutils import data as dd


def sync(dev: torch.device) -> None:
    """Wait for queued accelerator work, so that the clock measures it."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def examples_per_second(loader: Iterable, dev: torch.device, repeats: int) -> tuple[float, int]:
    """Read `repeats` epochs with every batch on `dev`; return the best rate and the epoch size."""
    best, n = 0.0, 0
    for _ in range(repeats):
        sync(dev)
        start, n = time.perf_counter(), 0
        for X, y in loader:
            X, y = X.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
            n += len(y)
        sync(dev)
        best = max(best, n / (time.perf_counter() - start))
    return best, n


def dataloader(n: int, batch_size: int, workers: int, shuffle: bool = True) -> DataLoader:
    """The book's path: torchvision's dataset, `ToTensor`, a `DataLoader`."""
    dataset = dd.fashion_mnist_dataset(train=True, transform=transforms.ToTensor())
    return DataLoader(Subset(dataset, range(n)), batch_size=batch_size, shuffle=shuffle,
                      num_workers=workers, persistent_workers=workers > 0)


def in_memory(n: int, batch_size: int, dev: torch.device):
    """The course's path: the split as tensors on `dev`, batches served as slices."""
    train_iter, _ = dd.fashion_mnist(batch_size, n_train=n, n_test=batch_size, device=dev)
    return train_iter


def check_same_data(n: int, batch_size: int, dev: torch.device) -> None:
    """Both sides must read identical images and labels (the first batch, unshuffled)."""
    X_dl, y_dl = next(iter(dataloader(n, batch_size, workers=0, shuffle=False)))
    images, labels = dd.fashion_mnist_tensors(train=True)
    X_mem, y_mem = next(iter(dd.TensorLoader(
        images[:n], labels[:n], batch_size=batch_size, device=dev,
        transform=lambda x: x.unsqueeze(1).float().div_(255))))
    if not (torch.equal(X_dl, X_mem.cpu()) and torch.equal(y_dl, y_mem.cpu())):
        raise SystemExit("the two loaders read different data: the comparison would be unfair")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="training images read per epoch")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0],
                        help="DataLoader worker counts to time (default: 0)")
    parser.add_argument("--repeats", type=int, default=3, help="epochs per side; best counts")
    args = parser.parse_args(argv)
    if not 0 < args.n <= 60_000:
        parser.error("--n must be between 1 and 60000")

    dev = torch.device(args.device) if args.device else d2lutils.device()
    d2lutils.set_seed(0)
    print(f"device: {dev} | torch {torch.__version__} | {torch.get_num_threads()} threads | "
          f"{platform.machine()} | python {platform.python_version()}")
    print(f"{args.n} training images per epoch, batch size {args.batch_size}, "
          f"best of {args.repeats} epochs per side")
    check_same_data(args.n, args.batch_size, dev)

    fast, n_fast = examples_per_second(in_memory(args.n, args.batch_size, dev), dev, args.repeats)
    rates = {}
    for workers in args.workers:
        loader = dataloader(args.n, args.batch_size, workers)
        rates[workers], n_slow = examples_per_second(loader, dev, args.repeats)
        if n_slow != n_fast:
            raise SystemExit(f"the sides read {n_slow} and {n_fast} examples per epoch")
    for workers, rate in rates.items():
        print(f"DataLoader, torchvision dataset, {workers} workers: {rate:12,.0f} examples/s")
    print(f"in-memory loader (d2lutils.data.fashion_mnist):     {fast:12,.0f} examples/s")
    for workers, rate in rates.items():
        print(f"ratio in-memory / DataLoader ({workers} workers) on {dev}: {fast / rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
