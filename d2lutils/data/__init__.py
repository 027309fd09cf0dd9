"""Datasets of the course: a checksummed registry, fetching with mirrors, and fast loaders.

``fetch(name)`` makes sure a dataset is under `data_root()`, verified; the loaders
(`fashion_mnist`, `cifar10`, `time_machine`, `kaggle_house`, `airfoil`, ...) call it for you.
What notebooks and learners call is exported here; the modules behind it are `sources`
(data root, sources, fetching), `verify` (checksums and the verified-stamp), `registry`,
`tensors` (TensorLoader), `vision`, `augment`, `tables`, `text`, and `standin` (the
generated CIFAR-10 stand-in, written by ``python -m d2lutils.data standin cifar10``).
"""

from d2lutils.data.augment import random_crop, random_flip
from d2lutils.data.registry import REGISTRY
from d2lutils.data.sources import (
    DataError,
    data_root,
    fetch,
    is_standin,
)
from d2lutils.data.tables import airfoil, airfoil_tensors, kaggle_house, synthetic_linear
from d2lutils.data.tensors import TensorLoader, load_array
from d2lutils.data.text import (
    SeqLoader,
    Vocab,
    load_corpus_time_machine,
    preprocess,
    read_time_machine,
    read_time_machine_text,
    seq_data_iter_random,
    seq_data_iter_sequential,
    time_machine,
    tokenize,
)
from d2lutils.data.vision import (
    CIFAR10_LABELS,
    CIFAR10_MEAN,
    CIFAR10_STD,
    FASHION_MNIST_LABELS,
    cifar10,
    cifar10_arrays,
    fashion_mnist,
    fashion_mnist_dataset,
    fashion_mnist_labels,
    fashion_mnist_tensors,
)

__all__ = [
    # the data root and fetching
    "REGISTRY", "DataError", "data_root", "fetch", "is_standin",
    # generic loaders
    "TensorLoader", "load_array",
    # vision
    "CIFAR10_LABELS", "CIFAR10_MEAN", "CIFAR10_STD", "FASHION_MNIST_LABELS", "cifar10",
    "cifar10_arrays", "fashion_mnist", "fashion_mnist_dataset", "fashion_mnist_labels",
    "fashion_mnist_tensors", "random_crop", "random_flip",
    # tables
    "airfoil", "airfoil_tensors", "kaggle_house", "synthetic_linear",
    # text
    "SeqLoader", "Vocab", "load_corpus_time_machine", "preprocess", "read_time_machine",
    "read_time_machine_text", "seq_data_iter_random", "seq_data_iter_sequential",
    "time_machine", "tokenize",
]
