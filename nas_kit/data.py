"""Image datasets kept on the training device, and batches made there.

A dataset is a uint8 tensor ``images`` of shape (N, C, H, W) plus int64 ``labels`` (N,).
:class:`DeviceLoader` moves both to the device once and builds every batch there:
index with a random permutation, crop with zero padding, flip, normalise, optionally
cut out a square.  There are no DataLoader workers and no per-image Python loop, so the
readable path is also the fast one (CIFAR-sized images are tiny; the PIL/worker pipeline
is what usually limits DARTS search speed on a modern GPU).

All randomness comes from one private ``torch.Generator`` per loader, which makes the
stream of batches a pure function of (seed, dataset, settings) and lets
:meth:`DeviceLoader.state_dict` capture it exactly for resuming.

Datasets::

    load_dataset('cifar10')           # torchvision download (needs internet once)
    load_dataset('cifar10-jpeg')      # offline copy: cifar10_jpeg_{train,test}.npz
    load_dataset('fashion-mnist')     # also found in Debian's dataset-fashion-mnist
    load_dataset('synthetic')         # learnable toy data, no files at all
"""
from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import urllib.error
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "DATASETS",
    "TRAIN_IMAGES",
    "DatasetUnavailableError",
    "DeviceLoader",
    "ImageDataset",
    "default_root",
    "from_arrays",
    "load_dataset",
    "search_split",
    "search_steps_per_epoch",
    "synthetic",
]

DATASETS: tuple[str, ...] = ("cifar10", "cifar10-jpeg", "cifar100", "svhn", "fashion-mnist", "synthetic")
SPLITS: tuple[str, ...] = ("train", "test")
#: Images in each dataset's training split (the JPEG copy holds the same 50,000 images).
TRAIN_IMAGES: dict[str, int] = {"cifar10": 50_000, "cifar10-jpeg": 50_000, "cifar100": 50_000,
                                "svhn": 73_257, "fashion-mnist": 60_000}


def search_steps_per_epoch(dataset: str, limit: int | None, train_portion: float,
                           batch_size: int) -> int:
    """Steps per search epoch: batches in the weights half of the first `limit` training
    images (all of them if None), incomplete batch dropped, as `DeviceLoader` serves them."""
    n = limit or TRAIN_IMAGES.get(dataset)
    if n is None:
        raise ValueError(f"no data limit and no known training-set size for dataset {dataset!r}; "
                         f"known: {sorted(TRAIN_IMAGES)}")
    return int(train_portion * n) // batch_size

# Where `apt-get install dataset-fashion-mnist` puts the original idx.gz files
# (`dpkg -L dataset-fashion-mnist`).  Module-level so tests can point it elsewhere.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# Normalisation constants, per channel in [0, 1] units, always from the TRAIN split so
# that train and test images are normalised identically.
#  - CIFAR-10: the DARTS code base (also used for the JPEG copy, so that numbers stay
#    comparable with the published protocol even though the JPEG pixels differ slightly).
#  - CIFAR-100: the DARTS-family code bases (PC-DARTS, P-DARTS), rounded to 4 digits.
#  - SVHN: widely used values computed on the 73,257-image train split.
#  - Fashion-MNIST: computed on the 60,000-image train split (0.2860 / 0.3530).
_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "svhn": ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
}


class DatasetUnavailableError(RuntimeError):
    """The dataset is not on disk and could not be fetched; the message says how to get it."""


# --------------------------------------------------------------------------- dataset


@dataclass(repr=False)
class ImageDataset:
    """Images and labels of one split, in memory.

    Attributes:
        name: short id, e.g. ``'cifar10'``.
        provenance: human-readable origin for captions and run records, e.g.
            ``'CIFAR-10 (JPEG re-encoded copy)'``.
        images: uint8 tensor (N, C, H, W).
        labels: int64 tensor (N,), values in ``[0, num_classes)``.
        num_classes: number of classes.
        mean, std: per-channel normalisation constants in [0, 1] units (length C).
        classes: optional class names (length ``num_classes``).
    """

    name: str
    provenance: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.images, torch.Tensor) or self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise TypeError("ImageDataset.images must be a uint8 tensor of shape (N, C, H, W); "
                            "use from_arrays() to convert other layouts")
        if not isinstance(self.labels, torch.Tensor) or self.labels.dtype != torch.int64 or self.labels.dim() != 1:
            raise TypeError("ImageDataset.labels must be an int64 tensor of shape (N,)")
        if self.labels.shape[0] != self.images.shape[0]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.shape[0]} labels")
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean/std need one value per channel ({self.channels}), "
                             f"got {len(self.mean)} and {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std}")
        if self.classes is not None:
            self.classes = tuple(self.classes)
            if len(self.classes) != self.num_classes:
                raise ValueError(f"{len(self.classes)} class names for {self.num_classes} classes")

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        c, h, w = self.images.shape[1:]
        return (f"ImageDataset(name={self.name!r}, n={len(self)}, shape=({c}, {h}, {w}), "
                f"num_classes={self.num_classes}, device={self.images.device}, provenance={self.provenance!r})")

    @property
    def channels(self) -> int:
        """C, the number of colour channels."""
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        """H (images are square in every dataset here; W is ``images.shape[3]``)."""
        return self.images.shape[2]

    def subset(self, index) -> "ImageDataset":
        """A dataset of the selected images, same metadata.

        ``index`` is a slice (gives views, no copy), a sequence/array/tensor of indices,
        or a boolean mask of length N.
        """
        if not isinstance(index, slice):
            index = torch.as_tensor(np.asarray(index) if not isinstance(index, torch.Tensor) else index)
            if index.dtype != torch.bool:
                index = index.long()
            index = index.to(self.images.device)
        return ImageDataset(self.name, self.provenance, self.images[index], self.labels[index],
                            self.num_classes, self.mean, self.std, self.classes)

    def to(self, device) -> "ImageDataset":
        """The same dataset with its tensors on ``device``."""
        return ImageDataset(self.name, self.provenance, self.images.to(device), self.labels.to(device),
                            self.num_classes, self.mean, self.std, self.classes)


def _channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units of uint8 images (N, C, H, W).

    Accumulates in float64 over chunks so that 50k CIFAR images never need a full
    float copy (600 MB) in memory.
    """
    c = images.shape[1]
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for i in range(0, images.shape[0], chunk):
        x = images[i:i + chunk].to("cpu", torch.float64) / 255.0
        s += x.sum(dim=(0, 2, 3))
        s2 += (x * x).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = s / count
    std = (s2 / count - mean * mean).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def from_arrays(images, labels, *, name: str = "custom", provenance: str = "user arrays",
                num_classes: int | None = None, mean: Sequence[float] | None = None,
                std: Sequence[float] | None = None, classes: Sequence[str] | None = None,
                channels_first: bool = False) -> ImageDataset:
    """Wrap uint8 arrays (numpy or torch) as an :class:`ImageDataset`.

    Args:
        images: uint8, shape (N, H, W, C) (the numpy/PIL layout), (N, H, W) for
            grayscale, or (N, C, H, W) when ``channels_first=True``.
        labels: integer class indices, shape (N,).
        num_classes: defaults to ``max(labels) + 1``.
        mean, std: per-channel constants in [0, 1] units; computed from ``images``
            when not given (pass the train split's values for a test split).
    """
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    if x.dtype != torch.uint8:
        raise TypeError(f"images must be uint8 (0..255), got {x.dtype}; scale and convert first "
                        "(e.g. (a * 255).round().astype(np.uint8))")
    if x.dim() == 3:
        if channels_first:
            raise ValueError("channels_first=True needs 4-D images (N, C, H, W)")
        x = x.unsqueeze(1)
    elif x.dim() == 4:
        if not channels_first:
            x = x.permute(0, 3, 1, 2)
    else:
        raise ValueError(f"images must be (N, H, W, C), (N, H, W) or (N, C, H, W); got shape {tuple(x.shape)}")
    x = x.contiguous()
    y = labels if isinstance(labels, torch.Tensor) else torch.from_numpy(np.asarray(labels))
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got {y.dtype}")
    y = y.to(torch.int64).reshape(-1).contiguous()
    if y.numel() and y.min().item() < 0:
        raise ValueError("labels must be non-negative class indices")
    if num_classes is None:
        num_classes = int(y.max().item()) + 1 if y.numel() else 0
    elif y.numel() and y.max().item() >= num_classes:
        raise ValueError(f"label {int(y.max().item())} out of range for num_classes={num_classes}")
    if mean is None or std is None:
        m, s = _channel_stats(x)
        mean = m if mean is None else mean
        std = s if std is None else std
    return ImageDataset(name, provenance, x, y, int(num_classes), tuple(mean), tuple(std),
                        None if classes is None else tuple(classes))


def search_split(ds: ImageDataset, portion: float = 0.5,
                 limit: int | None = None) -> tuple[ImageDataset, ImageDataset]:
    """The DARTS search split of a training set: (weights half, architecture half).

    The first ``int(portion * N)`` images train the network weights, the rest train the
    architecture (alpha) and measure search validation accuracy, in the original order
    (DARTS uses ``indices[:split]`` / ``indices[split:]`` of the unshuffled train set).
    With ``limit``, only the first ``limit`` images of ``ds`` are used (quick runs).
    Both halves are views of ``ds`` (no copy).
    """
    n = len(ds)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
            raise TypeError(f"limit must be an int or None, got {limit!r}")
        if not 2 <= limit <= n:
            raise ValueError(f"limit must be in [2, {n}] for {ds.name!r} ({n} images), got {limit}")
        n = int(limit)
    if not 0.0 < portion < 1.0:
        raise ValueError(f"portion must be in (0, 1), got {portion}")
    k = int(portion * n)
    if k == 0 or k == n:
        raise ValueError(f"portion={portion} of {n} images leaves one half empty")
    train, val = ds.subset(slice(0, k)), ds.subset(slice(k, n))
    # A class-sorted dataset would silently give the two halves different classes. Tiny
    # subsets (smoke runs) miss classes by chance, so only halves big enough to hold every
    # class several times are checked.
    min_half = min(k, n - k)
    seen_a = torch.bincount(train.labels, minlength=ds.num_classes) > 0
    seen_b = torch.bincount(val.labels, minlength=ds.num_classes) > 0
    if min_half >= 10 * ds.num_classes and not torch.equal(seen_a, seen_b):
        warnings.warn(f"search_split({ds.name!r}): the two halves contain different classes "
                      f"({int(seen_a.sum())} vs {int(seen_b.sum())}); is the dataset sorted by label?")
    return train, val


# --------------------------------------------------------------------------- synthetic


def synthetic(n: int = 1024, num_classes: int = 10, image_size: int = 32, channels: int = 3,
              seed: int = 0, split: str = "train") -> ImageDataset:
    """A small learnable dataset that needs no files: uint8 (n, channels, S, S).

    Each class owns a fixed smooth colour pattern (a sum of 4 random low-frequency
    cosines per channel, periodic over the image).  An image is its class pattern
    cyclically shifted by up to S/8 pixels, with random contrast, a random per-channel
    brightness offset and Gaussian pixel noise.  Classes are balanced and shuffled.

    A small CNN separates the classes well above chance within a couple of epochs, which
    is what smoke tests of a search need.  The result is a pure function of the
    arguments: ``split='test'`` draws different images (its own random stream) from the
    same class patterns.  ``mean``/``std`` are nominal constants (0.5, 0.21) per channel,
    within a few hundredths of the measured values for any seed, so train and test share them.
    """
    _check_split(split)
    for arg, val, lo in (("n", n, 1), ("num_classes", num_classes, 2), ("image_size", image_size, 4),
                         ("channels", channels, 1)):
        if not isinstance(val, (int, np.integer)) or val < lo:
            raise ValueError(f"{arg} must be an int >= {lo}, got {val!r}")
    s = int(image_size)
    # Separate streams: class patterns are shared by the splits, images are not.
    prng = np.random.default_rng([seed, 0])
    freqs = prng.integers(0, 3, size=(num_classes, channels, 4, 2))        # cycles per image
    amp = prng.uniform(20.0, 45.0, size=(num_classes, channels, 4))
    phase = prng.uniform(0.0, 2 * np.pi, size=(num_classes, channels, 4))
    yy, xx = np.meshgrid(np.arange(s), np.arange(s), indexing="ij")
    arg = (2 * np.pi / s) * (freqs[..., 0, None, None] * yy + freqs[..., 1, None, None] * xx) + phase[..., None, None]
    patterns = (amp[..., None, None] * np.cos(arg)).sum(axis=2).astype(np.float32)  # (K, C, S, S)

    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    labels = rng.permutation(np.arange(n) % num_classes)
    shift = rng.integers(-(s // 8), s // 8 + 1, size=(n, 2))
    contrast = rng.uniform(0.6, 1.4, size=(n, 1, 1, 1)).astype(np.float32)
    bright = rng.normal(0.0, 12.0, size=(n, channels, 1, 1)).astype(np.float32)

    images = np.empty((n, channels, s, s), dtype=np.uint8)
    ar, ch = np.arange(s), np.arange(channels)
    for i in range(0, n, 4096):  # chunks bound the float memory for large n
        j = min(i + 4096, n)
        rows = (ar[None, :] - shift[i:j, 0:1]) % s                         # (b, S)
        cols = (ar[None, :] - shift[i:j, 1:2]) % s
        img = patterns[labels[i:j, None, None, None], ch[None, :, None, None],
                       rows[:, None, :, None], cols[:, None, None, :]]     # (b, C, S, S)
        noise = 24.0 * rng.standard_normal(size=img.shape, dtype=np.float32)
        img = 128.0 + contrast[i:j] * img + bright[i:j] + noise
        images[i:j] = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    return ImageDataset(
        name="synthetic",
        provenance=f"synthetic (nas_kit, seed {seed})",
        images=torch.from_numpy(images),
        labels=torch.from_numpy(labels.astype(np.int64)),
        num_classes=int(num_classes),
        mean=(0.5,) * channels,
        std=(0.21,) * channels,
        classes=tuple(f"class{k}" for k in range(num_classes)),
    )


# --------------------------------------------------------------------------- loading


def default_root() -> Path:
    """Data directory: ``$NAS_KIT_DATA`` if set, else ``~/.cache/nas_kit/data``."""
    env = os.environ.get("NAS_KIT_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nas_kit" / "data"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def load_dataset(name: str, split: str = "train", root: str | os.PathLike | None = None,
                 download: bool = True, **kwargs) -> ImageDataset:
    """Load one split of a named dataset as an :class:`ImageDataset` on the CPU.

    Args:
        name: one of :data:`DATASETS`.
        split: ``'train'`` or ``'test'``.
        root: data directory (default :func:`default_root`).  torchvision datasets use
            their usual layout under it (e.g. ``<root>/cifar-10-batches-py``).
        download: let torchvision download missing files (needs internet).
        **kwargs: ``synthetic`` takes the arguments of :func:`synthetic` (``n``,
            ``num_classes``, ``image_size``, ``channels``, ``seed``); ``cifar10-jpeg``
            takes ``cache=True`` (keep decoded pixels as ``.npy`` for fast reloads).

    Raises:
        ValueError: unknown name or split.
        DatasetUnavailableError: files absent and not downloadable; says how to get them.
    """
    key = str(name).lower()
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    _check_split(split)
    if key == "synthetic":
        return synthetic(split=split, **kwargs)
    if key == "cifar10-jpeg":
        return _load_cifar10_jpeg(split, root, **kwargs)
    if kwargs:
        raise TypeError(f"load_dataset({key!r}) takes no extra arguments, got {sorted(kwargs)}")
    root_path = Path(root).expanduser() if root is not None else default_root()
    if key == "fashion-mnist":
        return _load_fashion_mnist(split, root_path, download)
    return _load_torchvision(key, split, root_path, download)


_TV_INFO = {  # name -> (torchvision class, display name, folder it creates under root)
    "cifar10": ("CIFAR10", "CIFAR-10", "cifar-10-batches-py"),
    "cifar100": ("CIFAR100", "CIFAR-100", "cifar-100-python"),
    "svhn": ("SVHN", "SVHN", "train_32x32.mat / test_32x32.mat"),
}


def _load_torchvision(key: str, split: str, root: Path, download: bool) -> ImageDataset:
    cls_name, display, folder = _TV_INFO[key]
    how = (f"Run load_dataset({key!r}, root={str(root)!r}, download=True) once on a machine with "
           f"internet (or copy torchvision's {folder} into {root}).")
    if key == "cifar10":
        how += " Offline alternative: load_dataset('cifar10-jpeg') with cifar10_jpeg_{train,test}.npz."
    try:
        import torchvision.datasets as tvd
        cls = getattr(tvd, cls_name)
        if key == "svhn":
            tv = cls(str(root), split=split, download=download)
        else:
            tv = cls(str(root), train=split == "train", download=download)
    except ImportError as e:  # torchvision itself, or scipy for SVHN's .mat files
        raise DatasetUnavailableError(f"{display} needs {e.name or 'a missing package'}: "
                                      f"pip install {e.name or 'torchvision'}") from e
    except (urllib.error.URLError, RuntimeError, OSError) as e:
        state = "could not be downloaded" if download else "is not on disk and download=False"
        raise DatasetUnavailableError(f"{display} ({split}) {state} under {root}: {e}. {how}") from e

    if key == "svhn":
        x = torch.from_numpy(np.ascontiguousarray(tv.data))       # already (N, 3, 32, 32)
        y = torch.from_numpy(np.asarray(tv.labels, dtype=np.int64))
        classes = tuple(str(d) for d in range(10))
    else:
        x = torch.from_numpy(np.ascontiguousarray(tv.data)).permute(0, 3, 1, 2).contiguous()
        y = torch.as_tensor(tv.targets, dtype=torch.int64)
        classes = tuple(tv.classes)
    mean, std = _STATS[key]
    return ImageDataset(key, f"{display} (torchvision download)", x, y, len(classes), mean, std, classes)


# ---- Fashion-MNIST: read the idx files ourselves, so Debian's copy works offline


def _read_idx(path: Path) -> np.ndarray:
    """An idx-format uint8 array (optionally gzipped), e.g. (N, 28, 28) images or (N,) labels."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise OSError(f"{path} is not a uint8 idx file")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != math.prod(dims):
        raise OSError(f"{path}: header says {dims} but holds {arr.size} values")
    return arr.reshape(dims)


def _find_idx(stem: str, dirs: Sequence[Path]) -> Path | None:
    for d in dirs:
        for fname in (stem, stem + ".gz"):
            if (d / fname).is_file():
                return d / fname
    return None


def _load_fashion_mnist(split: str, root: Path, download: bool) -> ImageDataset:
    prefix = "train" if split == "train" else "t10k"
    raw = root / "FashionMNIST" / "raw"
    dirs = [raw, DEBIAN_FASHION_MNIST_DIR]
    img_path = _find_idx(f"{prefix}-images-idx3-ubyte", dirs)
    lbl_path = _find_idx(f"{prefix}-labels-idx1-ubyte", dirs)
    how = (f"Either run once with internet (download=True), or on Debian/Ubuntu "
           f"`apt-get install dataset-fashion-mnist` (found automatically in {DEBIAN_FASHION_MNIST_DIR}), "
           f"or copy/link the four *-idx?-ubyte.gz files listed by `dpkg -L dataset-fashion-mnist` into {raw}/.")
    if img_path is None or lbl_path is None:
        if not download:
            raise DatasetUnavailableError(f"Fashion-MNIST ({split}) is not in {raw} or "
                                          f"{DEBIAN_FASHION_MNIST_DIR} and download=False. {how}")
        try:
            import torchvision.datasets as tvd
            tvd.FashionMNIST(str(root), train=split == "train", download=True)
        except (urllib.error.URLError, RuntimeError, OSError) as e:
            raise DatasetUnavailableError(f"Fashion-MNIST ({split}) could not be downloaded to {raw}: {e}. {how}") from e
        img_path = _find_idx(f"{prefix}-images-idx3-ubyte", [raw])
        lbl_path = _find_idx(f"{prefix}-labels-idx1-ubyte", [raw])
        if img_path is None or lbl_path is None:
            raise DatasetUnavailableError(f"Fashion-MNIST download left no idx files in {raw}. {how}")
    try:
        x = _read_idx(img_path)
        y = _read_idx(lbl_path).astype(np.int64)
    except (OSError, EOFError, struct.error) as e:
        raise DatasetUnavailableError(f"Fashion-MNIST files are unreadable ({img_path}, {lbl_path}): {e}. {how}") from e
    if x.ndim != 3 or y.shape != (x.shape[0],):
        raise DatasetUnavailableError(f"Fashion-MNIST files disagree: images {x.shape}, labels {y.shape}. {how}")
    source = "Debian dataset-fashion-mnist" if img_path.parent == DEBIAN_FASHION_MNIST_DIR else "original idx files"
    mean, std = _STATS["fashion-mnist"]
    return ImageDataset("fashion-mnist", f"Fashion-MNIST ({source})",
                        torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y),
                        10, mean, std, FASHION_MNIST_CLASSES)


# ---- CIFAR-10 JPEG copy


def _decode_jpeg_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``cifar10_jpeg_*.npz``: uint8 (N, 3, 32, 32) images, int64 (N,) labels.

    The file holds all JPEGs concatenated (``jpeg``), their byte ``offsets`` (N+1) and
    ``labels``.  JPEG decoding is inherently per image; skipping Pillow's format sniffing
    and the mode conversion (all images are RGB) makes the loop about 30% faster.
    Threads do not help: the Python part of each tiny decode dominates.
    """
    with np.load(path) as z:
        buf, offsets, labels = z["jpeg"], z["offsets"].astype(np.int64), z["labels"].astype(np.int64)
    from PIL import Image

    n = len(labels)
    if offsets.shape != (n + 1,):
        raise ValueError(f"{path}: offsets has shape {offsets.shape}, expected ({n + 1},)")
    mv = memoryview(buf.tobytes())
    off = offsets.tolist()
    first = Image.open(io.BytesIO(mv[off[0]:off[1]]), formats=("JPEG",)) if n else None
    h, w = (first.size[1], first.size[0]) if first else (32, 32)
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        im = Image.open(io.BytesIO(mv[off[i]:off[i + 1]]), formats=("JPEG",))
        if im.mode != "RGB":
            im = im.convert("RGB")
        out[i] = np.frombuffer(im.tobytes(), dtype=np.uint8).reshape(h, w, 3)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)), labels


def _file_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16]


def _atomic_save_npy(path: Path, arr: np.ndarray) -> None:
    # Write then rename, so a concurrent reader never sees a half-written cache file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, arr)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_JPEG_ORDER_SEED = 0  # fixed shuffle of the class-sorted JPEG copy; changing it changes every split


def _load_cifar10_jpeg(split: str, root, cache: bool = True) -> ImageDataset:
    """The JPEG copy of CIFAR-10, decoded once and cached as ``.npy`` under the data root.

    Looks for ``cifar10_jpeg_{split}.npz`` in ``root`` (default :func:`default_root`),
    then in ``$NAS_KIT_CIFAR10_JPEG``.  Images come in a fixed shuffled order (see below).
    """
    fname = f"cifar10_jpeg_{split}.npz"
    data_root = Path(root).expanduser() if root is not None else default_root()
    dirs = [data_root]
    env = os.environ.get("NAS_KIT_CIFAR10_JPEG")
    if env:
        dirs.append(Path(env).expanduser())
    src = next((d / fname for d in dirs if (d / fname).is_file()), None)
    if src is None:
        raise DatasetUnavailableError(
            f"{fname} not found in {[str(d) for d in dirs]}. Put cifar10_jpeg_train.npz / "
            f"cifar10_jpeg_test.npz (arrays jpeg, offsets, labels) in root= or set NAS_KIT_CIFAR10_JPEG "
            f"to their directory. With internet, load_dataset('cifar10') gives the original data.")

    # The files are sorted by class (0...0, 1...1, ...).  DARTS' search split takes the
    # first and second half of the train set, which would then hold disjoint classes, so
    # the images come in a fixed class-mixed order, like the original CIFAR-10 files.
    # The cache holds them already in that order (a 150 MB gather saved per load).
    with np.load(src) as z:
        labels = z["labels"].astype(np.int64)
    order = np.random.default_rng(_JPEG_ORDER_SEED).permutation(len(labels))
    labels = labels[order]

    images = None
    cache_file = None
    if cache:
        # Always under the data root, never beside the source: the source directory is
        # often a shared read-only copy (and root may write there regardless of mode bits).
        # The content hash in the name makes a changed source miss the cache.
        cache_file = (data_root / "cifar10-jpeg-cache"
                      / f"{src.stem}.{_file_digest(src)}.order{_JPEG_ORDER_SEED}.images.npy")
        if cache_file.is_file():
            try:
                images = np.load(cache_file)
            except (OSError, ValueError) as e:
                warnings.warn(f"ignoring unreadable cache {cache_file}: {e}")
            if images is not None and (images.dtype != np.uint8 or images.shape[0] != len(labels)):
                images = None
    if images is None:
        decoded, _ = _decode_jpeg_npz(src)
        images = np.ascontiguousarray(decoded[order])
        del decoded
        if cache_file is not None:
            try:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                _atomic_save_npy(cache_file, images)
            except OSError as e:  # a read-only home must not stop training
                warnings.warn(f"could not cache decoded images at {cache_file}: {e}")
    mean, std = _STATS["cifar10"]
    return ImageDataset("cifar10-jpeg", "CIFAR-10 (JPEG re-encoded copy)", torch.from_numpy(images),
                        torch.from_numpy(labels), 10, mean, std, CIFAR10_CLASSES)


# --------------------------------------------------------------------------- loader


class DeviceLoader:
    """Batches made on the device from a dataset held there as uint8.

    Each batch: take the next ``batch_size`` indices of the current random permutation,
    then (``augment=True``) crop at a random offset from the image zero-padded by ``pad``
    pixels and flip horizontally with p=0.5, per sample; convert to float, divide by 255,
    normalise with the dataset's mean/std; finally (``cutout > 0``) zero one square per
    image, DARTS style.  This matches torchvision's ``RandomCrop(S, padding=pad)``,
    ``RandomHorizontalFlip()``, ``ToTensor()``, ``Normalize`` (+ DARTS ``Cutout``) on PIL
    images, so padded pixels become ``(0 - mean) / std``.

    Two ways to consume it, sharing one stream:

    * ``for x, y in loader`` yields the rest of the current pass over the data, or a
      whole fresh pass (``len(loader)`` batches) if the current one is used up.  Resumed
      mid-epoch from :meth:`state_dict`, the loop therefore finishes that epoch.
    * ``loader.next()`` returns one batch, starting a new reshuffled pass when needed:
      an endless stream, e.g. for the architecture/validation half in DARTS search.

    Batches are ``x`` float32 (B, C, H, W) and ``y`` int64 (B,) on ``device``.  With
    ``drop_last=False`` the final batch of a pass may be smaller.

    Randomness comes only from a private ``torch.Generator`` seeded with ``seed`` (on the
    GPU for a CUDA device), so the same seed gives the same batches on the same kind of
    device, and :meth:`state_dict` / :meth:`load_state_dict` resume the stream
    bit-for-bit.  CPU and CUDA generators differ, so a given seed gives different
    (equally valid) streams on the two.
    """

    def __init__(self, ds: ImageDataset, batch_size: int, device="cpu", *, augment: bool = True,
                 cutout: int = 0, shuffle: bool = True, drop_last: bool = True, seed: int = 0,
                 pad: int = 4) -> None:
        n = len(ds)
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if n == 0:
            raise ValueError("cannot load from an empty dataset")
        if drop_last and n < batch_size:
            raise ValueError(f"drop_last=True with batch_size={batch_size} > {n} images gives no batches")
        if pad < 0 or cutout < 0:
            raise ValueError(f"pad and cutout must be >= 0, got pad={pad}, cutout={cutout}")
        if cutout and not augment:
            raise ValueError("cutout is an augmentation; it needs augment=True")
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.augment, self.cutout, self.shuffle = bool(augment), int(cutout), bool(shuffle)
        self.drop_last, self.seed, self.pad = bool(drop_last), int(seed), int(pad)
        self.num_samples = n
        self.images = ds.images.to(self.device)                       # uint8 (N, C, H, W)
        self.labels = ds.labels.to(self.device)                       # int64 (N,)
        shape = (1, ds.channels, 1, 1)
        self._mean = torch.tensor(ds.mean, dtype=torch.float32, device=self.device).view(shape)
        self._std = torch.tensor(ds.std, dtype=torch.float32, device=self.device).view(shape)
        # Random numbers are drawn where the generator lives and moved to the data; only
        # CUDA has a fast device generator that is also portable to resume.
        self._gen_device = self.device if self.device.type == "cuda" else torch.device("cpu")
        self._gen = torch.Generator(device=self._gen_device)
        self._gen.manual_seed(self.seed)
        self._perm = torch.empty(0, dtype=torch.int64, device=self.device)  # empty: no pass yet
        self._pos = 0          # samples of the current pass already served
        self._passes = 0       # passes started

    # -- stream position

    def __len__(self) -> int:
        """Batches per pass over the data."""
        b, n = self.batch_size, self.num_samples
        return n // b if self.drop_last else -(-n // b)

    @property
    def passes(self) -> int:
        """Number of passes over the data started so far (0 before the first batch)."""
        return self._passes

    @property
    def batches_left_in_pass(self) -> int:
        """Batches the current pass still holds (0 when the next batch starts a new pass)."""
        left = self._perm.numel() - self._pos
        return left // self.batch_size if self.drop_last else -(-left // self.batch_size)

    def _new_pass(self) -> None:
        if self.shuffle:
            perm = torch.randperm(self.num_samples, generator=self._gen, device=self._gen_device)
            self._perm = perm.to(self.device)
        else:
            self._perm = torch.arange(self.num_samples, device=self.device)
        self._pos = 0
        self._passes += 1

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch ``(x (B, C, H, W) float32, y (B,) int64)``; never stops, reshuffles per pass."""
        if self.batches_left_in_pass == 0:
            self._new_pass()
        idx = self._perm[self._pos:self._pos + self.batch_size]
        self._pos += idx.numel()
        return self._make_batch(idx), self.labels[idx]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.batches_left_in_pass == 0:
            self._new_pass()
        while self.batches_left_in_pass > 0:
            yield self.next()

    # -- batch construction

    def _randint(self, high: int, size: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(0, high, size, generator=self._gen, device=self._gen_device).to(self.device)

    def _make_batch(self, idx: torch.Tensor) -> torch.Tensor:
        img = self.images[idx]                                        # uint8 (B, C, H, W)
        if self.augment:
            img = self._crop_flip(img)
        x = img.float().div_(255.0).sub_(self._mean).div_(self._std)  # same op order as ToTensor+Normalize
        if self.cutout:
            x = self._cutout(x)
        return x

    def _crop_flip(self, img: torch.Tensor) -> torch.Tensor:
        """Random crop from the zero-padded image and random horizontal flip, per sample.

        One gather does both: output pixel (i, j) of sample b reads padded pixel
        (dy_b + i, dx_b + j), or (dy_b + i, dx_b + W-1-j) if b is flipped (flipping the
        crop equals reading its columns backwards).
        """
        b, c, h, w = img.shape
        p = self.pad
        padded = F.pad(img, (p, p, p, p)) if p else img              # zeros in uint8 space
        offsets = self._randint(2 * p + 1, (2, b))                   # dy, dx in [0, 2p]
        flip = self._randint(2, (b,)).bool()
        ar_h = torch.arange(h, device=self.device)
        ar_w = torch.arange(w, device=self.device)
        rows = offsets[0, :, None] + ar_h                            # (B, H)
        cols = offsets[1, :, None] + torch.where(flip[:, None], w - 1 - ar_w, ar_w)  # (B, W)
        bi = torch.arange(b, device=self.device)[:, None, None, None]
        ci = torch.arange(c, device=self.device)[None, :, None, None]
        return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]

    def _cutout(self, x: torch.Tensor) -> torch.Tensor:
        """Zero one square per image (after normalisation), as DARTS' ``Cutout(length)``.

        Centre uniform over the image, square ``[cy - L//2, cy + L//2)`` clipped at the
        borders, so squares near an edge are smaller (and odd L gives side L-1, as there).
        """
        b, _, h, w = x.shape
        half = self.cutout // 2
        cy, cx = self._randint(h, (b,)), self._randint(w, (b,))
        ar_h = torch.arange(h, device=self.device)
        ar_w = torch.arange(w, device=self.device)
        in_rows = (ar_h >= (cy - half)[:, None]) & (ar_h < (cy + half)[:, None])   # (B, H)
        in_cols = (ar_w >= (cx - half)[:, None]) & (ar_w < (cx + half)[:, None])   # (B, W)
        mask = in_rows[:, None, :, None] & in_cols[:, None, None, :]               # (B, 1, H, W)
        return x.masked_fill_(mask, 0.0)

    # -- checkpointing

    _CONFIG = ("num_samples", "batch_size", "shuffle", "drop_last", "augment", "cutout", "pad")

    def state_dict(self) -> dict:
        """Everything needed to continue the exact stream: tensors and Python scalars only
        (loads with ``torch.load(..., weights_only=True)``)."""
        sd = {"version": 1, "seed": self.seed, "passes": self._passes, "pos": self._pos,
              "perm": self._perm.cpu(), "generator": self._gen.get_state(),
              "generator_device": self._gen_device.type}
        sd.update({k: getattr(self, k) for k in self._CONFIG})
        return sd

    def load_state_dict(self, sd: dict) -> None:
        """Continue the stream saved by :meth:`state_dict` (same dataset and settings)."""
        bad = {k: (sd.get(k), getattr(self, k)) for k in self._CONFIG if sd.get(k) != getattr(self, k)}
        if bad:
            raise ValueError("loader state does not match this loader (saved, current): "
                             + ", ".join(f"{k}={v}" for k, v in bad.items()))
        if sd.get("generator_device", "cpu") != self._gen_device.type:
            raise ValueError(f"loader state holds a {sd.get('generator_device')} generator but this loader "
                             f"uses a {self._gen_device.type} one; resume on the same kind of device")
        perm = sd["perm"].to(self.device, torch.int64)
        if perm.numel() not in (0, self.num_samples) or not 0 <= sd["pos"] <= perm.numel():
            raise ValueError("corrupt loader state: permutation/position out of range")
        self._gen.set_state(sd["generator"].cpu())
        self._perm, self._pos, self._passes = perm, int(sd["pos"]), int(sd["passes"])
        self.seed = int(sd["seed"])
