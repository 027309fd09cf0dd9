"""Every dataset of the course, once: file names, where they come from, and their checksums.

This table is the single truth that `fetch`, `make data`, the loaders and the tests read.
A checksum is written ``"<algorithm>:<hex digest>"`` (md5, sha1 or sha256) and is the digest
of the file *as stored* under the data root. Fashion-MNIST is stored decompressed and checked
by the sha256 of the idx files, because the same content exists under different gzip bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

D2L_S3 = "http://d2l-data.s3-accelerate.amazonaws.com/"
D2L_ZH = "https://raw.githubusercontent.com/d2l-ai/d2l-zh/{commit}/data/"
ZH_2021 = "f66f0829b472c4739fc7842b827c63e5eb39d69d"
ZH_AIRFOIL = "275424e773b849a94a9d0902144390dad8776d1e"
FASHION_URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    `name` is its path inside the dataset folder, `checksum` the digest of the stored file,
    `urls` the canonical download locations in order, `mirror` its path inside a
    `D2L_DATA_MIRROR`, and `gzip` says that the sources serve it gzip-compressed (it is
    stored decompressed).
    """

    name: str
    checksum: str
    urls: tuple[str, ...]
    mirror: str
    gzip: bool = False


@dataclass(frozen=True)
class Archive:
    """A compressed archive whose members are the dataset's files (CIFAR-10)."""

    name: str
    checksum: str
    urls: tuple[str, ...]
    member_prefix: str  # the folder inside the archive that holds the dataset's files


@dataclass(frozen=True)
class Dataset:
    """A dataset: a folder under the data root holding `files` (or extracted from `archive`)."""

    name: str
    folder: str
    files: tuple[FileSpec, ...]
    description: str
    archive: Archive | None = None
    debian_dir: str | None = None  # a system folder that may already hold the files


def _fashion(stem: str, sha256: str) -> FileSpec:
    return FileSpec(
        name=f"raw/{stem}",
        checksum=f"sha256:{sha256}",
        urls=tuple(base + stem + ".gz" for base in FASHION_URLS),
        mirror=f"fashion-mnist/{stem}.gz",
        gzip=True,
    )


def _d2l_file(name: str, sha1: str, commit: str = ZH_2021) -> FileSpec:
    return FileSpec(
        name=name,
        checksum=f"sha1:{sha1}",
        urls=(D2L_S3 + name, D2L_ZH.format(commit=commit) + name),
        mirror=name,
    )


_CIFAR_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"

REGISTRY: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="fashion_mnist",
            # torchvision's layout, so torchvision.datasets.FashionMNIST(data_root()) reads it too
            folder="FashionMNIST",
            files=(
                _fashion("train-images-idx3-ubyte",
                         "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
                _fashion("train-labels-idx1-ubyte",
                         "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
                _fashion("t10k-images-idx3-ubyte",
                         "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
                _fashion("t10k-labels-idx1-ubyte",
                         "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            ),
            description=("Fashion-MNIST (Zalando Research, MIT): 70,000 28x28 grey images, "
                         "10 classes"),
            debian_dir=DEBIAN_FASHION,
        ),
        Dataset(
            name="cifar10",
            folder="cifar-10-batches-py",
            files=tuple(
                FileSpec(name=n, checksum=f"md5:{m}", urls=(), mirror="")  # from the archive
                for n, m in _CIFAR_MD5.items()
            ),
            archive=Archive(
                name=CIFAR_ARCHIVE,
                checksum="md5:c58f30108f718f92721af3b95e74349a",
                urls=("https://www.cs.toronto.edu/~kriz/" + CIFAR_ARCHIVE,),
                member_prefix="cifar-10-batches-py/",
            ),
            description="CIFAR-10 (Krizhevsky 2009), python version: 60,000 32x32 colour images",
        ),
        Dataset(
            name="time_machine",
            folder="time_machine",
            files=(_d2l_file("timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"),),
            description="H. G. Wells, The Time Machine (Project Gutenberg text as used by d2l)",
        ),
        Dataset(
            name="kaggle_house",
            folder="kaggle_house",
            files=(
                _d2l_file("kaggle_house_pred_train.csv",
                          "585e9cc93e70b39160e7921475f9bcd7d31219ce"),
                _d2l_file("kaggle_house_pred_test.csv",
                          "fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
            ),
            description="Kaggle House Prices (Ames, De Cock 2011), as redistributed by d2l",
        ),
        Dataset(
            name="airfoil",
            folder="airfoil",
            files=(
                _d2l_file("airfoil_self_noise.dat", "76e5be1548fd8222e5074cf0faae75edff8cf93f",
                          commit=ZH_AIRFOIL),
            ),
            description="UCI Airfoil Self-Noise (NASA 1989, CC BY 4.0)",
        ),
    ]
}
