"""The CIFAR pre-activation ResNet with shortcut depth n, its data, training loop and checkpoints."""

import logging
import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from shortcut.experiments.cifar import (
    STANDIN_NAME,
    CheckpointError,
    TrainingInterrupted,
    augment,
    default_milestones,
    job_checkpoint,
    load_checkpoint,
    load_images,
    lr_at,
    train,
    train_job,
)
from shortcut.science.data import DataError
from formats import write_cifar10_batch
from shortcut.science.preresnet import PreResNet, Unit, admits, count_params, mean_weight_norm, units_per_stage, valid_depths

TINY = {"dataset": "standin", "n": 2, "depth": 8, "seed": 0, "width": 0.25, "n_train": 40, "n_test": 20}


pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------------------------- the net


@pytest.mark.parametrize("depth,n", [(8, 2), (14, 4), (20, 3), (11, 1), (38, 1), (38, 4)])
def test_shapes_and_layer_counts(depth, n):
    net = PreResNet(depth, n, width=0.25)
    assert net(torch.randn(3, 3, 32, 32)).shape == (3, 10)
    assert net.num_convs() == depth - 1                 # + the linear layer = depth weight layers
    assert net.k == (depth - 2) // (3 * n) and len(net.units) == 3 * net.k
    assert all(len([m for m in u.body if isinstance(m, nn.Conv2d)]) == n for u in net.units)


def test_preresnet20_is_the_standard_one():
    net = PreResNet(20)                                 # n = 2, width 1, type A
    assert count_params(net) == 269_690                 # "0.27M" (He et al. 2016)
    assert net.channels == (16, 32, 64) and net.k == 3
    assert count_params(PreResNet(20, shortcut="B")) == 269_690 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


@pytest.mark.parametrize("depth,ns", [(38, (1, 2, 3, 4)), (20, (1, 2, 3)), (26, (1, 2, 4))])
@pytest.mark.parametrize("shortcut", ["A", "B"])
def test_parameter_count_does_not_depend_on_n(depth, ns, shortcut):
    counts = {n: count_params(PreResNet(depth, n, width=0.5, shortcut=shortcut)) for n in ns}
    assert len(set(counts.values())) == 1, counts


def test_depth_validation_names_depth_n_and_the_nearest_valid_depths():
    with pytest.raises(ValueError, match=r"depth=20\b.*n=4\b.*3\*n = 12.*14, 26"):
        PreResNet(20, n=4)
    with pytest.raises(ValueError, match=r"depth=37\b.*n=2\b.*32, 38"):
        units_per_stage(37, 2)
    with pytest.raises(ValueError, match=r"depth=5\b.*n=3\b.*: 11$"):
        PreResNet(5, n=3)
    with pytest.raises(ValueError, match="n=0"):
        PreResNet(20, n=0)
    with pytest.raises(ValueError, match="shortcut='C'"):
        PreResNet(20, shortcut="C")
    assert valid_depths((1, 2, 3, 4), 150) == [38, 74, 110, 146]
    assert valid_depths([2], 20) == [8, 14, 20]
    assert valid_depths([1, 2, 4], 40) == [14, 26, 38]
    assert [d for d in range(40) if admits(d, 2)] == valid_depths([2], 40)    # the same rule
    assert admits(38, 4) and not admits(20, 4) and not admits(2, 1) and not admits(20.0, 2)
    with pytest.raises(ValueError, match="n=0"):
        admits(20, 0)


def test_first_unit_has_no_leading_bn_relu_and_stage_heads_preactivate_both_paths():
    net = PreResNet(14, 2)
    first = net.stage1[0]
    assert first.preact is None and isinstance(first.body[0], nn.Conv2d)
    x = torch.randn(2, 16, 32, 32)
    assert torch.allclose(first(x), first.body(x) + x)  # stem output goes straight into the conv
    for stage in (net.stage2, net.stage3):
        head = stage[0]
        assert isinstance(head.preact[0], nn.BatchNorm2d) and isinstance(head.body[0], nn.Conv2d)
    for unit in [*net.stage1[1:], *net.stage2[1:], *net.stage3[1:]]:
        assert unit.preact is None
        assert [type(m) for m in unit.body[:3]] == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d]


def test_type_a_shortcut_is_a_parameter_free_strided_zero_padded_identity():
    unit = Unit(4, 8, n=2, stride=2, preact="residual", shortcut="A")
    body = sum(p.numel() for p in unit.body.parameters())
    assert count_params(unit) == body                   # nothing outside the residual path
    x = torch.randn(2, 4, 8, 8)
    s = unit.shortcut(x)
    assert s.shape == (2, 8, 4, 4)
    assert torch.equal(s[:, :4], x[:, :, ::2, ::2]) and not s[:, 4:].any()
    b = Unit(4, 8, n=2, stride=2, shortcut="B")
    assert count_params(b) == body + 4 * 8 + 2 * 8      # 1x1 conv + BN


def test_initialisation_and_average_frobenius_norm():
    torch.manual_seed(0)
    net = PreResNet(38, 2)
    conv = net.stage3[2].body[2]
    assert conv.bias is None
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.02)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) and not m.bias.any() for m in bns)
    assert not net.fc.bias.any()
    ws = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(ws) == 38                                # D weight layers
    assert mean_weight_norm(net) == pytest.approx(float(np.mean([w.norm().item() for w in ws])), rel=1e-6)


# ---------------------------------------------------------------------------------------------- data


def test_standin_is_named_split_and_normalised():
    d = load_images("standin")
    assert d.n_train == 4000 and d.n_test == 1000 and d.name == STANDIN_NAME and "NOT CIFAR-10" in d.description
    assert np.bincount(d.y_train.numpy()).tolist() == [400] * 10 and np.bincount(d.y_test.numpy()).tolist() == [100] * 10
    assert d.x_train.shape == (4000, 3, 32, 32)
    assert torch.allclose(d.x_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(d.x_train.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)
    small = load_images("standin", n_train=40, n_test=20)
    assert np.bincount(small.y_train.numpy()).tolist() == [4] * 10


def test_cifar10_data_dir_errors_say_where_to_put_the_data(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_images("cifar10", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="needs data_dir"):
        load_images("cifar10", None)
    with pytest.raises(DataError, match="unknown dataset='mnist'"):
        load_images("mnist")


def test_cifar10_format_end_to_end(tmp_path):
    """A format-exact (synthetic) cifar-10-batches-py folder goes through loading and one training epoch."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar10_batch(folder / name, rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20) % 10)
    job = {**TINY, "dataset": "cifar10", "n_train": None, "n_test": None, "epochs": 1}
    out = train_job(job, device="cpu", data_dir=str(tmp_path))
    assert out["n_train"] == 100 and out["n_test"] == 20 and out["dataset_name"] == "CIFAR-10" and out["flip"] is True


def test_augment_pads_crops_and_flips():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(augment(x, g, pad=0, flip=False), x)
    y = augment(x, g, pad=2, flip=True)
    assert y.shape == x.shape
    for i in range(2):                                  # every output is a shifted (maybe mirrored) copy
        ok = False
        for src in (x[i], x[i].flip(2)):
            p = torch.nn.functional.pad(src, (2, 2, 2, 2))
            ok |= any(torch.equal(p[:, r:r + 6, c:c + 6], y[i]) for r in range(5) for c in range(5))
        assert ok


def test_schedule():
    assert default_milestones(164) == [81, 122] == default_milestones(200)
    assert default_milestones(20, reference=200) == [8, 12]
    assert default_milestones(1) == [2, 3]               # never before the first epoch is done
    assert [lr_at(e, 0.1, [81, 122]) for e in (1, 80, 81, 121, 122, 200)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


# ---------------------------------------------------------------------------------------------- training


def test_training_decreases_the_loss_on_a_small_set():
    torch.manual_seed(0)
    net = PreResNet(8, 2, width=0.5)
    data = load_images("standin", n_train=40, n_test=20)
    out = train(net, data, 8, lr=0.1, milestones=[100], flip=False, device="cpu", batch_size=10)
    loss = out["history"]["train_loss"]
    assert len(loss) == 8 and np.mean(loss[-3:]) < loss[0] - 0.2, loss
    assert out["final_test_error"] == out["history"]["test_error"][-1]
    assert out["init_avg_frobenius"] != out["history"]["avg_frobenius"][-1]


def test_checkpoint_resume_gives_the_records_of_an_uninterrupted_run(tmp_path):
    job = {**TINY, "epochs": 4}
    full = train_job(job, device="cpu")
    with pytest.raises(TrainingInterrupted):
        train_job(job, device="cpu", work_dir=tmp_path, stop_after=2)
    ckpt = job_checkpoint(tmp_path, job)
    state = torch.load(ckpt, weights_only=True)          # plain tensors and containers only
    assert state["epoch"] == 2 and len(state["history"]["epoch"]) == 2
    assert not list(ckpt.parent.glob(".*.tmp"))          # atomic writes (records.atomic_write) leave no temporaries
    resumed = train_job(job, device="cpu", work_dir=tmp_path)
    assert resumed["resumed_from"] == [2] and full["resumed_from"] == []
    for k, v in full["history"].items():
        if k != "seconds":
            assert resumed["history"][k] == v, k
    assert resumed["init_avg_frobenius"] == full["init_avg_frobenius"]
    assert resumed["num_params"] == full["num_params"]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_with_code_is_refused(tmp_path):
    job = {**TINY, "epochs": 2}
    ckpt = job_checkpoint(tmp_path, job)
    ckpt.parent.mkdir(parents=True)
    marker = tmp_path / "pwned"
    torch.save({"format": "shortcut.experiments.cifar/1", "epoch": 1, "payload": _Evil(marker)}, ckpt)
    with pytest.raises(CheckpointError, match="refused or is unreadable"):
        load_checkpoint(ckpt)
    evil = ckpt.read_bytes()
    out = train_job(job, device="cpu", work_dir=tmp_path)      # set aside, and the run starts over
    assert not marker.exists()
    assert out["resumed_from"] == [] and len(out["history"]["epoch"]) == 2
    assert ckpt.with_name(ckpt.name + ".corrupt").read_bytes() == evil   # kept for a look, never loaded
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("damage", [b"", b"not a checkpoint", "truncated"])
def test_a_damaged_checkpoint_is_set_aside_and_the_run_starts_over(damage, tmp_path, caplog):
    job = {**TINY, "epochs": 3}
    full = train_job(job, device="cpu")
    with pytest.raises(TrainingInterrupted):
        train_job(job, device="cpu", work_dir=tmp_path, stop_after=1)
    ckpt = job_checkpoint(tmp_path, job)
    ckpt.write_bytes(ckpt.read_bytes()[:200] if damage == "truncated" else damage)
    with caplog.at_level(logging.WARNING):
        out = train_job(job, device="cpu", work_dir=tmp_path)
    assert out["resumed_from"] == []                                     # started over, not resumed
    assert out["history"]["test_error"] == full["history"]["test_error"]  # the same run as one never stopped
    assert ckpt.with_name(ckpt.name + ".corrupt").exists()
    assert ckpt.name in caplog.text and "moved aside" in caplog.text


def test_job_keys_are_checked():
    with pytest.raises(ValueError, match=r"missing keys \['epochs'\].*unknown keys \['lr_drops'\]"):
        train_job({**TINY, "lr_drops": [1]})


def test_a_job_works_out_its_milestones_once_and_runs_on_one_cpu_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = train_job({**TINY, "epochs": 3}, device="cpu")
        assert torch.get_num_threads() == 1                          # device.cpu_single_thread
    finally:
        torch.set_num_threads(before)
    assert out["milestones"] == out["config"]["milestones"] == default_milestones(3)
    given = train_job({**TINY, "epochs": 1, "milestones": [5, 9]}, device="cpu")
    assert given["milestones"] == given["config"]["milestones"] == [5, 9]


def test_units_keep_only_what_they_use():
    unit = Unit(4, 8, n=2, stride=2, preact="both", shortcut="A")
    assert not hasattr(unit, "preact_type") and not hasattr(unit, "shortcut_type")
