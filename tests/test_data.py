"""Tests of nas_kit.data: datasets, the on-device loader, resuming, loading errors.

All fast, CPU-only and offline; CUDA and the shared CIFAR-10 JPEG file are used only
when present.
"""
import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nas_kit import data as D
from nas_kit.data import (DATASETS, DatasetUnavailableError, DeviceLoader, ImageDataset, from_arrays,
                          load_dataset, search_split, synthetic)

SHARED_JPEG_TEST = Path("/work/shared/data/cifar10_jpeg_test.npz")


def rand_ds(n=64, size=8, channels=3, seed=0, unit_norm=True, **kw):
    """Random uint8 images; mean 0 / std 1 makes x * 255 the raw pixel value."""
    g = np.random.default_rng(seed)
    imgs = g.integers(0, 256, size=(n, size, size, channels), dtype=np.uint8)
    labels = kw.pop("labels", np.arange(n) % 10)
    if unit_norm:
        kw.setdefault("mean", (0.0,) * channels)
        kw.setdefault("std", (1.0,) * channels)
    return from_arrays(imgs, labels, **kw)


def take(loader, k):
    return [loader.next() for _ in range(k)]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# --------------------------------------------------------------------------- datasets


def test_synthetic_shapes_and_determinism():
    a = synthetic(n=200, seed=3)
    assert a.images.shape == (200, 3, 32, 32) and a.images.dtype == torch.uint8
    assert a.labels.shape == (200,) and a.labels.dtype == torch.int64
    assert a.channels == 3 and a.image_size == 32 and len(a) == 200 and a.num_classes == 10
    assert torch.bincount(a.labels).tolist() == [20] * 10
    assert a.provenance == "synthetic (nas_kit, seed 3)"
    b = synthetic(n=200, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, synthetic(n=200, seed=4).images)
    assert not torch.equal(a.images, synthetic(n=200, seed=3, split="test").images)
    g = synthetic(n=20, channels=1, image_size=16, num_classes=4)
    assert g.images.shape == (20, 1, 16, 16) and len(g.mean) == 1


def test_synthetic_is_learnable_and_test_shares_patterns():
    # Nearest class mean (fit on train) must beat chance by far on the test split, which
    # only works if both splits come from the same class patterns.
    tr, te = synthetic(n=1000, seed=0), synthetic(n=500, seed=0, split="test")
    xtr, xte = tr.images.float().flatten(1), te.images.float().flatten(1)
    means = torch.stack([xtr[tr.labels == k].mean(0) for k in range(10)])
    acc = (torch.cdist(xte, means).argmin(1) == te.labels).float().mean().item()
    assert acc > 0.5
    assert load_dataset("synthetic", n=50).images.shape[0] == 50


def test_from_arrays_nhwc_grayscale_and_channels_first():
    g = np.random.default_rng(1)
    arr = g.integers(0, 256, size=(6, 5, 4, 3), dtype=np.uint8)          # (N, H, W, C)
    ds = from_arrays(arr, [0, 1, 2, 0, 1, 2])
    assert ds.images.shape == (6, 3, 5, 4) and ds.images.is_contiguous()
    assert torch.equal(ds.images, torch.from_numpy(arr).permute(0, 3, 1, 2))
    assert ds.num_classes == 3 and ds.labels.dtype == torch.int64
    ref = arr.reshape(-1, 3) / 255.0
    np.testing.assert_allclose(ds.mean, ref.mean(0), rtol=1e-9)
    np.testing.assert_allclose(ds.std, ref.std(0), rtol=1e-9)

    gray = from_arrays(torch.from_numpy(arr[..., 0]), torch.zeros(6, dtype=torch.int32), num_classes=2)
    assert gray.images.shape == (6, 1, 5, 4) and gray.channels == 1 and len(gray.mean) == 1
    assert gray.num_classes == 2

    cf = from_arrays(arr.transpose(0, 3, 1, 2), np.zeros(6, dtype=np.int64), channels_first=True, mean=(0.5,) * 3, std=(0.2,) * 3)
    assert torch.equal(cf.images, ds.images) and cf.mean == (0.5, 0.5, 0.5)

    with pytest.raises(TypeError, match="uint8"):
        from_arrays(arr.astype(np.float32), np.zeros(6, dtype=np.int64))
    with pytest.raises(ValueError, match="out of range"):
        from_arrays(arr, np.arange(6), num_classes=3)
    with pytest.raises(ValueError, match="shape"):
        from_arrays(arr[0, 0], [0, 1, 2, 3, 4])


def test_subset_and_repr():
    ds = rand_ds(20)
    sub = ds.subset([3, 1])
    assert torch.equal(sub.images, ds.images[[3, 1]]) and sub.labels.tolist() == [3, 1]
    view = ds.subset(slice(2, 5))
    assert view.images.data_ptr() == ds.images[2].data_ptr()        # a view, not a copy
    assert len(ds.subset(ds.labels < 5)) == 10
    assert "n=20" in repr(ds) and "tensor" not in repr(ds)
    with pytest.raises(ValueError, match="per channel"):
        ImageDataset("x", "y", ds.images, ds.labels, 10, (0.5,), (0.2,))


def test_search_split_sizes_order_and_errors():
    ds = rand_ds(100, labels=np.arange(100) % 10)
    a, b = search_split(ds)
    assert len(a) == 50 and len(b) == 50
    assert torch.equal(a.images, ds.images[:50]) and torch.equal(b.images, ds.images[50:])
    a, b = search_split(ds, portion=0.7, limit=40)
    assert (len(a), len(b)) == (28, 12)
    assert torch.equal(b.labels, ds.labels[28:40])
    for bad in (dict(portion=0.0), dict(portion=1.0), dict(limit=101), dict(limit=1), dict(portion=0.001)):
        with pytest.raises(ValueError):
            search_split(ds, **bad)
    with pytest.warns(UserWarning, match="sorted"):   # each half big enough to hold every class
        search_split(rand_ds(200, labels=np.sort(np.arange(200) % 10)))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a tiny smoke subset missing a class by chance: no warning
        search_split(rand_ds(40, labels=np.sort(np.arange(40) % 10)))


# --------------------------------------------------------------------------- loader


def test_loader_shapes_len_and_epoch_coverage():
    ds = rand_ds(100, labels=np.arange(100), num_classes=100)    # label == index
    ld = DeviceLoader(ds, 32, augment=False)
    assert len(ld) == 3
    batches = list(ld)
    assert len(batches) == 3
    x, y = batches[0]
    assert x.shape == (32, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    seen = torch.cat([y for _, y in batches])
    assert len(set(seen.tolist())) == 96                            # a permutation, no repeats
    assert not torch.equal(seen, torch.arange(96))                  # shuffled

    full = DeviceLoader(ds, 32, augment=False, drop_last=False, shuffle=False)
    assert len(full) == 4
    ys = [y for _, y in full]
    assert [len(y) for y in ys] == [32, 32, 32, 4]
    assert torch.equal(torch.cat(ys), torch.arange(100))
    with pytest.raises(ValueError, match="drop_last"):
        DeviceLoader(ds, 101)
    with pytest.raises(ValueError, match="augment"):
        DeviceLoader(ds, 10, augment=False, cutout=4)


def test_loader_seed_determinism():
    ds = rand_ds(64)
    a = take(DeviceLoader(ds, 16, seed=5, cutout=3), 6)
    b = take(DeviceLoader(ds, 16, seed=5, cutout=3), 6)
    assert_same_batches(a, b)
    c = take(DeviceLoader(ds, 16, seed=6, cutout=3), 6)
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_iter_and_next_share_one_stream():
    ds = rand_ds(50)
    a = DeviceLoader(ds, 16, seed=1)
    via_iter = [b for _ in range(3) for b in a]
    b = DeviceLoader(ds, 16, seed=1)
    assert_same_batches(via_iter, take(b, 3 * len(b)))
    assert a.passes == 3

    # Mid-pass, iteration finishes the current pass only.
    c = DeviceLoader(ds, 16, seed=1)
    c.next()
    assert c.batches_left_in_pass == 2 and len(list(c)) == 2 and len(list(c)) == 3


@pytest.mark.parametrize("k", [0, 2, 3, 7])
def test_resume_from_state_dict_is_bit_exact(k):
    ds = rand_ds(50)
    kw = dict(seed=11, cutout=4)
    a = DeviceLoader(ds, 16, **kw)
    take(a, k)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    rest = take(a, 8)                                               # crosses pass boundaries
    buf.seek(0)
    b = DeviceLoader(ds, 16, seed=999, cutout=4)                    # seed comes from the state
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert_same_batches(rest, take(b, 8))


def test_resume_mid_epoch_iteration():
    ds = rand_ds(80)
    a = DeviceLoader(ds, 16)
    it = iter(a)
    next(it), next(it)
    sd = a.state_dict()
    rest = list(it)
    b = DeviceLoader(ds, 16)
    b.load_state_dict(sd)
    assert len(rest) == 3
    assert_same_batches(rest, list(b))


def test_load_state_dict_rejects_other_settings():
    ds = rand_ds(50)
    sd = DeviceLoader(ds, 16).state_dict()
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(ds, 8).load_state_dict(sd)
    with pytest.raises(ValueError, match="num_samples"):
        DeviceLoader(rand_ds(60), 16).load_state_dict(sd)


def _raw(x):
    """Back to uint8 pixels for a dataset with mean 0 and std 1."""
    return (x * 255).round().to(torch.uint8)


def test_crop_and_flip_fixed_offsets_match_slicing(monkeypatch):
    ds = rand_ds(3, size=10)
    ld = DeviceLoader(ds, 3, shuffle=False, pad=4)
    draws = iter([torch.tensor([[0, 4, 8], [7, 4, 1]]),            # dy, dx per sample
                  torch.tensor([0, 1, 1])])                        # flip per sample
    monkeypatch.setattr(ld, "_randint", lambda high, size: next(draws))
    x, _ = ld.next()
    padded = torch.nn.functional.pad(ds.images, (4, 4, 4, 4))
    ref = torch.stack([padded[0, :, 0:10, 7:17],
                       padded[1, :, 4:14, 4:14].flip(-1),
                       padded[2, :, 8:18, 1:11].flip(-1)])
    assert torch.equal(_raw(x), ref)
    assert torch.equal(_raw(x[1]), ds.images[1].flip(-1))          # centre crop = original


def test_random_crops_are_exact_windows_of_padded_image():
    ds = rand_ds(256, size=8)
    ld = DeviceLoader(ds, 256, shuffle=False, pad=4)
    x, _ = ld.next()
    got = _raw(x)
    padded = torch.nn.functional.pad(ds.images, (4, 4, 4, 4))
    found = []
    for i in range(256):                                            # brute force over all 9*9*2 crops
        hits = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (0, 1)
                if torch.equal(got[i], padded[i, :, dy:dy + 8, dx:dx + 8].flip(-1) if f
                               else padded[i, :, dy:dy + 8, dx:dx + 8])]
        assert len(hits) == 1, f"sample {i}: {hits}"
        found.append(hits[0])
    assert {f for _, _, f in found} == {0, 1}
    assert len({(dy, dx) for dy, dx, _ in found}) > 40             # offsets vary per sample


def test_normalisation_values_and_padding_value(monkeypatch):
    g = np.random.default_rng(0)
    arr = g.integers(0, 256, size=(4, 6, 6, 3), dtype=np.uint8)
    mean, std = (0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768)
    ds = from_arrays(arr, [0, 1, 2, 3], mean=mean, std=std)
    x, y = DeviceLoader(ds, 4, augment=False, shuffle=False).next()
    ref = (arr.transpose(0, 3, 1, 2) / 255.0 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(x.numpy(), ref, atol=1e-6)
    assert y.tolist() == [0, 1, 2, 3]

    ld = DeviceLoader(ds, 4, shuffle=False, pad=2)
    draws = iter([torch.zeros(2, 4, dtype=torch.long), torch.zeros(4, dtype=torch.long)])
    monkeypatch.setattr(ld, "_randint", lambda high, size: next(draws))
    x, _ = ld.next()                                                # crop at (0, 0): 2 rows of padding on top
    pad_val = torch.tensor([-m / s for m, s in zip(mean, std)], dtype=torch.float32)
    assert torch.allclose(x[:, :, :2, :], pad_val[None, :, None, None].expand(4, 3, 2, 6), atol=1e-6)
    np.testing.assert_allclose(x[:, :, 2:, 2:].numpy(), ref[:, :, :4, :4], atol=1e-6)


def test_cutout_zeroes_one_clipped_square():
    arr = np.full((200, 12, 12, 1), 255, dtype=np.uint8)
    ds = from_arrays(arr, np.zeros(200, dtype=np.int64), mean=(0.0,), std=(1.0,))
    x, _ = DeviceLoader(ds, 200, pad=0, cutout=6, seed=3).next()
    assert set(x.unique().tolist()) == {0.0, 1.0}
    zero = x[:, 0] == 0                                             # (B, H, W)
    rows, cols = zero.any(2), zero.any(1)
    assert torch.equal(zero, rows[:, :, None] & cols[:, None, :])   # one axis-aligned rectangle
    for r in (rows, cols):                                          # contiguous, at most 6 long
        n = r.sum(1)
        assert (n <= 6).all() and (n >= 3).all()                    # centre inside: at least L/2
        first = r.float().argmax(1)
        span = torch.arange(12)[None] - first[:, None]
        assert torch.equal(r, (span >= 0) & (span < n[:, None]))
    assert (zero.sum((1, 2)) == 36).any() and (zero.sum((1, 2)) < 36).any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_loader_resume_and_device():
    ds = rand_ds(300, size=32)
    a = DeviceLoader(ds, 64, device="cuda", cutout=16, seed=2)
    x, y = a.next()
    assert x.is_cuda and y.is_cuda and x.shape == (64, 3, 32, 32)
    take(a, 5)
    sd = a.state_dict()
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    rest = take(a, 7)
    b = DeviceLoader(ds, 64, device="cuda", cutout=16)
    b.load_state_dict(torch.load(buf, weights_only=True))
    assert_same_batches(rest, take(b, 7))
    with pytest.raises(ValueError, match="generator"):
        DeviceLoader(ds, 64, cutout=16).load_state_dict(sd)


# --------------------------------------------------------------------------- loading


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match="cifar10-jpeg"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="'train', 'test'"):
        load_dataset("synthetic", split="valid")
    assert "synthetic" in DATASETS and len(DATASETS) == 6


def test_cifar10_absent_offline_says_how(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="internet") as e:
        load_dataset("cifar10", root=tmp_path, download=False)
    assert e.value.__cause__ is not None
    assert "cifar10-jpeg" in str(e.value)


def _write_idx(path, arr):
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _fake_fashion(d, n=7):
    d.mkdir(parents=True, exist_ok=True)
    g = np.random.default_rng(0)
    x = g.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = g.integers(0, 10, size=n, dtype=np.uint8)
    _write_idx(d / "t10k-images-idx3-ubyte.gz", x)
    _write_idx(d / "t10k-labels-idx1-ubyte.gz", y)
    return x, y


def test_fashion_mnist_from_idx_files_and_debian_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "nowhere")
    with pytest.raises(DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", "test", root=tmp_path, download=False)

    x, y = _fake_fashion(tmp_path / "root" / "FashionMNIST" / "raw")
    ds = load_dataset("fashion-mnist", "test", root=tmp_path / "root", download=False)
    assert ds.images.shape == (7, 1, 28, 28) and ds.channels == 1
    assert torch.equal(ds.images[:, 0], torch.from_numpy(x)) and ds.labels.tolist() == y.tolist()
    assert ds.classes[0] == "T-shirt/top" and len(ds.mean) == 1

    deb = tmp_path / "debian"
    _fake_fashion(deb)
    monkeypatch.setattr(D, "DEBIAN_FASHION_MNIST_DIR", deb)
    ds = load_dataset("fashion-mnist", "test", root=tmp_path / "empty", download=False)
    assert "Debian" in ds.provenance and len(ds) == 7


def _write_jpeg_npz(path, n=10, seed=0):
    """A tiny file in the cifar10_jpeg format; labels sorted like the real one."""
    g = np.random.default_rng(seed)
    blobs, decoded = [], []
    for i in range(n):
        img = g.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        b = io.BytesIO()
        Image.fromarray(img).save(b, format="JPEG", quality=75)
        blobs.append(np.frombuffer(b.getvalue(), dtype=np.uint8))
        decoded.append(np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB")))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    np.savez(path, jpeg=np.concatenate(blobs), offsets=offsets, labels=np.arange(n, dtype=np.int64) % 10)
    return np.stack(decoded)


def test_cifar10_jpeg_tiny_file_decode_order_and_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NAS_KIT_CIFAR10_JPEG", raising=False)
    ref = _write_jpeg_npz(tmp_path / "cifar10_jpeg_train.npz")
    ds = load_dataset("cifar10-jpeg", root=tmp_path)
    assert ds.provenance == "CIFAR-10 (JPEG re-encoded copy)" and ds.name == "cifar10-jpeg"
    assert ds.images.shape == (10, 3, 32, 32) and ds.labels.dtype == torch.int64
    assert ds.mean[0] == pytest.approx(0.49139968) and ds.classes[0] == "airplane"
    assert sorted(ds.labels.tolist()) == list(range(10))
    assert ds.labels.tolist() != list(range(10))                    # class-sorted file gets mixed
    for j, lbl in enumerate(ds.labels.tolist()):                    # label == original index here
        assert np.array_equal(ds.images[j].permute(1, 2, 0).numpy(), ref[lbl])
    assert len(list((tmp_path / "cifar10-jpeg-cache").glob("*.npy"))) == 1

    def no_decode(path):
        raise AssertionError("cache was not used")
    monkeypatch.setattr(D, "_decode_jpeg_npz", no_decode)
    again = load_dataset("cifar10-jpeg", root=tmp_path)
    assert torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)


def test_cifar10_jpeg_env_dir_and_missing(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    _write_jpeg_npz(src / "cifar10_jpeg_test.npz", n=4)
    monkeypatch.setenv("NAS_KIT_CIFAR10_JPEG", str(src))
    ds = load_dataset("cifar10-jpeg", "test", root=tmp_path / "root", cache=False)
    assert len(ds) == 4
    assert not (tmp_path / "root" / "cifar10-jpeg-cache").exists()
    assert not list(src.glob("*.npy"))                              # never writes beside the source
    with pytest.raises(DatasetUnavailableError, match="NAS_KIT_CIFAR10_JPEG"):
        load_dataset("cifar10-jpeg", "train", root=tmp_path / "root")


@pytest.mark.skipif(not SHARED_JPEG_TEST.is_file(), reason=f"{SHARED_JPEG_TEST} not present (dev machines only)")
def test_shared_cifar10_jpeg_test_split(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_KIT_CIFAR10_JPEG", str(SHARED_JPEG_TEST.parent))
    ds = load_dataset("cifar10-jpeg", "test", root=tmp_path)
    assert ds.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(ds.labels).tolist() == [1000] * 10
