"""A generic in-memory loader: equally long tensors on the device, served in shuffled batches.

Whole datasets that fit in memory are held as tensors on the training device; a batch is a
slice (or a gather) of them. No worker processes, no collation. `load_array` builds the
classic `DataLoader` instead, because the notebooks teach it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch.utils import data as tud

from d2lutils.device import device as default_device

TensorTransform = Callable[[torch.Tensor], torch.Tensor]


class TensorLoader:
    """Batches of equally long tensors, held on `device`, reshuffled every epoch.

    ``for X, y in TensorLoader(X, y, batch_size=256, shuffle=True)`` behaves like a
    `DataLoader` over a `TensorDataset`, without workers or collation: like the dataset it
    holds the tensors it is given (moved to `device`), and like the loader it yields new
    tensors, so editing a batch in place changes nothing in the loader. `transform` maps
    the first tensor of each batch (e.g. uint8 images to normalized floats) on the device.
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        device: torch.device | str | None = None,
        transform: TensorTransform | None = None,
        drop_last: bool = False,
    ) -> None:
        if not tensors:
            raise ValueError("TensorLoader needs at least one tensor")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorLoader: tensors differ in length (first axis): {shapes}. "
                             "Hint: pass one row per example in each, e.g. X and y of the "
                             "same examples.")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if device is None:
            device = default_device()
        self.device = torch.device(device)
        self.tensors = tuple(t.to(self.device) for t in tensors)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform = transform

    @property
    def num_examples(self) -> int:
        """Number of examples (rows) served per epoch, before `drop_last`."""
        return len(self.tensors[0])

    def __len__(self) -> int:
        n, b = self.num_examples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = self.num_examples
        order = torch.randperm(n, device=self.device) if self.shuffle else None
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            if order is None:  # copied, as a DataLoader's batches are: an in-place edit of
                # a batch must not change the loader's data for the next epoch
                batch = [t[start:start + self.batch_size].clone() for t in self.tensors]
            else:  # index_select: a plain gather, several times faster than t[idx] on CPU
                idx = order[start:start + self.batch_size]
                batch = [t.index_select(0, idx) for t in self.tensors]
            if self.transform is not None:
                batch[0] = self.transform(batch[0])
            yield tuple(batch)


def load_array(
    tensors: Sequence[torch.Tensor], batch_size: int, is_train: bool = True
) -> tud.DataLoader:
    """A PyTorch `DataLoader` over `tensors` (d2l's ``load_array``): shuffled when training."""
    return tud.DataLoader(tud.TensorDataset(*tensors), batch_size, shuffle=is_train)


def subset_size(n_total: int, n: int | None) -> int:
    """`n` checked against the `n_total` examples of a split (None: all of them)."""
    if n is None:
        return n_total
    if not 0 < n <= n_total:
        raise ValueError(f"asked for {n} examples, the split has {n_total}. Hint: pass a "
                         f"number from 1 to {n_total}, or None for all of them.")
    return n
