"""Datasets of the course: a checksummed registry, fetching with mirrors, and fast loaders.

``fetch(name)`` makes sure a dataset is under `data_root()`, verified; the loaders
(`fashion_mnist`, `cifar10`, `time_machine`, `kaggle_house`, `airfoil`, ...) call it for you.
"""

from d2lutils.data.augment import random_crop, random_flip
from d2lutils.data.registry import REGISTRY
from d2lutils.data.sources import (
    DataError,
    data_root,
    dataset_dir,
    fetch,
    get_dataset,
    is_standin,
)
from d2lutils.data.standin import write_cifar10_standin
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
    CIFAR10Dataset,
    cifar10,
    cifar10_arrays,
    cifar10_dataset,
    fashion_mnist,
    fashion_mnist_dataset,
    fashion_mnist_labels,
    fashion_mnist_tensors,
)

__all__ = [
    "CIFAR10_LABELS", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10Dataset", "DataError",
    "FASHION_MNIST_LABELS", "REGISTRY", "SeqLoader", "TensorLoader", "Vocab", "airfoil",
    "airfoil_tensors", "cifar10", "cifar10_arrays", "cifar10_dataset", "data_root",
    "dataset_dir", "fashion_mnist", "fashion_mnist_dataset", "fashion_mnist_labels",
    "fashion_mnist_tensors", "fetch", "get_dataset", "is_standin", "kaggle_house", "load_array",
    "load_corpus_time_machine", "preprocess", "random_crop", "random_flip", "read_time_machine",
    "read_time_machine_text", "seq_data_iter_random", "seq_data_iter_sequential",
    "synthetic_linear", "time_machine", "tokenize", "write_cifar10_standin",
]
