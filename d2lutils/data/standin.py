"""A generated stand-in for CIFAR-10, for machines that cannot download it (the course's tests).

It is written in the exact on-disk format of ``cifar-10-batches-py`` (pickled dicts with
``data`` uint8 N x 3072, ``labels``, ``batch_label``, ``filenames``; ``batches.meta`` with
``label_names``), so the real loading code reads it unchanged. Each class has its own colour
and stripe orientation under random phase, brightness and noise, so a network can learn it.
A marker file, STANDIN.txt, makes every loader announce "stand-in data, not CIFAR-10".
"""

from __future__ import annotations

import pickle
import shutil
import uuid
from pathlib import Path

import numpy as np

from d2lutils.data.registry import REGISTRY
from d2lutils.data.sources import STANDIN_MARKER, data_root, holds_verified, swap_folder
from d2lutils.data.vision import CIFAR10_LABELS, read_cifar_batch

MARKER_TEXT = (
    "This folder holds a GENERATED STAND-IN for CIFAR-10, not the real dataset.\n"
    "It exists so that the course's tests and quick-mode notebooks run offline.\n"
    "Results on it are not CIFAR-10 results. Get the real data with:\n"
    "    make data DATASETS=cifar10\n"
)


def standin_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Images (N, 32, 32, 3) uint8 whose colour and stripe direction depend on the label."""
    n = len(labels)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    angle = labels * (np.pi / 10) + rng.normal(0, 0.08, n)
    freq = 0.35 + 0.1 * (labels % 3) + rng.normal(0, 0.02, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    proj = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    stripes = np.sin(freq[:, None, None] * proj + phase[:, None, None])  # (N, 32, 32)
    hue = labels / 10 * 2 * np.pi
    colour = 0.5 + 0.35 * np.stack([np.cos(hue), np.cos(hue - 2.1), np.cos(hue + 2.1)], 1)
    bright = rng.uniform(0.6, 1.0, (n, 1, 1, 1))
    img = bright * (0.55 * colour[:, None, None, :] + 0.3 * stripes[..., None])
    img += rng.normal(0, 0.12, img.shape)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _batch(labels: np.ndarray, rng: np.random.Generator, name: str) -> dict:
    images = standin_images(labels, rng)
    return {
        "batch_label": f"{name} (stand-in, generated)",
        "labels": [int(v) for v in labels],
        "data": images.transpose(0, 3, 1, 2).reshape(len(labels), 3072),
        "filenames": [f"standin_{name}_{i:05d}.png" for i in range(len(labels))],
    }


def write_cifar10_standin(per_batch: int = 1000, n_test: int = 1000, seed: int = 0,
                          root: Path | None = None) -> Path:
    """Write the stand-in under the data root (or `root`) unless real CIFAR-10 is there.

    Five training batches of `per_batch` images and a test batch of `n_test`, balanced over
    the ten classes. Returns the dataset folder. Written to a temporary folder first, then
    renamed into place.
    """
    ds = REGISTRY["cifar10"]
    folder = (root or data_root()) / ds.folder
    if (folder / STANDIN_MARKER).exists():
        if standin_is_whole(folder):
            return folder
        print(f"{folder}: the CIFAR-10 stand-in is incomplete or damaged; writing it again.")
    elif _is_real(folder):
        return folder  # the real data: never overwrite it
    folder.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # a plain mkdir, not mkdtemp: the folder gets the usual permissions (mkdtemp's are 0700,
    # unreadable to the other users of a shared data root)
    staging = folder.with_name(f".cifar10-standin-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        for i in range(1, 6):
            labels = rng.permutation(np.arange(per_batch) % 10)
            with open(staging / f"data_batch_{i}", "wb") as f:
                pickle.dump(_batch(labels, rng, f"training batch {i} of 5"), f, protocol=2)
        labels = rng.permutation(np.arange(n_test) % 10)
        with open(staging / "test_batch", "wb") as f:
            pickle.dump(_batch(labels, rng, "testing batch 1 of 1"), f, protocol=2)
        meta = {"num_cases_per_batch": per_batch, "label_names": CIFAR10_LABELS,
                "num_vis": 3072}
        with open(staging / "batches.meta", "wb") as f:
            pickle.dump(meta, f, protocol=2)
        (staging / STANDIN_MARKER).write_text(MARKER_TEXT)
        # a damaged stand-in or an incomplete copy is replaced; a whole stand-in (or the real
        # data) that another process just put there is kept
        swap_folder(staging, folder, lambda: standin_is_whole(folder) or _is_real(folder))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _is_real(folder: Path) -> bool:
    return holds_verified(REGISTRY["cifar10"], folder)


def standin_is_whole(folder: Path) -> bool:
    """True if `folder` holds every file of a stand-in, each loadable as CIFAR-10 data."""
    try:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = read_cifar_batch(folder / name)
            data, labels = batch["data"], batch["labels"]
            if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                    and data.shape[1] == 3072 and len(labels) == len(data)):
                return False
        return read_cifar_batch(folder / "batches.meta")["label_names"] == CIFAR10_LABELS
    except Exception:  # noqa: BLE001 (missing, truncated, not a pickle, refused: not loadable)
        return False
