"""Small tabular datasets: Kaggle house prices, airfoil self-noise, synthetic regression."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils import data as tud

from d2lutils.data.sources import fetch
from d2lutils.data.tensors import load_array

if TYPE_CHECKING:  # pandas costs ~0.3 s to import: only kaggle_house needs it, at its first call
    import pandas as pd


def kaggle_house() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Kaggle house-price data as ``(train_df, test_df)`` pandas DataFrames."""
    import pandas as pd  # on first use (see above)

    folder = fetch("kaggle_house")
    return (pd.read_csv(folder / "kaggle_house_pred_train.csv"),
            pd.read_csv(folder / "kaggle_house_pred_test.csv"))


def airfoil_tensors(n: int = 1500) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` airfoil examples, every column standardized (as d2l's ``get_data_ch11``).

    Returns features (n, 5) and targets (n,), float32.
    """
    raw = np.genfromtxt(fetch("airfoil") / "airfoil_self_noise.dat", dtype=np.float32,
                        delimiter="\t")
    data = torch.from_numpy((raw - raw.mean(axis=0)) / raw.std(axis=0))
    return data[:n, :-1], data[:n, -1]


def airfoil(batch_size: int = 10, n: int = 1500) -> tuple[tud.DataLoader, int]:
    """``(DataLoader, feature_dim)`` over the standardized airfoil data (d2l ``get_data_ch11``)."""
    X, y = airfoil_tensors(n)
    return load_array((X, y), batch_size, is_train=True), X.shape[1]


def synthetic_linear(w: torch.Tensor, b: float, n: int,
                     noise: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """``y = Xw + b + noise`` with X ~ N(0, 1): returns X (n, len(w)) and y (n, 1), as d2l."""
    w = torch.as_tensor(w, dtype=torch.float32)
    X = torch.normal(0.0, 1.0, (n, len(w)))
    y = X @ w + b
    y += torch.normal(0.0, noise, y.shape)
    return X, y.reshape(-1, 1)
