"""Checkpoints: round trips, atomic saves, clear errors, and resuming to the same weights."""
import dataclasses
import json
import os

import numpy
import pytest
import safetensors.numpy

import chainrule
from chainrule import checkpoint, nn, optim
from chainrule.errors import CheckpointError
from chainrule.optim import lr_scheduler


def arrays_of(model):
    return {name: tensor.numpy().copy() for name, tensor in model.state_dict().items()}


def assert_same_weights(first, second):
    a, b = arrays_of(first), arrays_of(second)
    assert a.keys() == b.keys()
    for name in a:
        numpy.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_round_trip_restores_weights_config_and_extra(tmp_path):
    chainrule.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    checkpoint.save_checkpoint(tmp_path, model, config={"sizes": [4, 8, 3]}, extra={"epoch": 5})
    fresh = nn.MLP([4, 8, 3])
    info = checkpoint.load_checkpoint(tmp_path, fresh)
    assert_same_weights(model, fresh)
    assert info["config"] == {"sizes": [4, 8, 3]} and info["extra"] == {"epoch": 5}
    assert json.loads((tmp_path / "config.json").read_text()) == {"sizes": [4, 8, 3]}
    assert sorted(info["model_state"]) == sorted(model.state_dict())


def test_float64_weights_keep_their_dtype(tmp_path):
    model = nn.Linear(3, 2, dtype=chainrule.float64)
    checkpoint.save_weights(tmp_path / "w.safetensors", model)
    fresh = nn.Linear(3, 2, dtype=chainrule.float64)
    checkpoint.load_weights(tmp_path / "w.safetensors", fresh)
    assert_same_weights(model, fresh)
    assert fresh.weight.dtype == chainrule.float64


def test_save_weights_writes_a_plain_safetensors_file(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    path = checkpoint.save_weights(tmp_path / "weights.safetensors", model)
    loaded = safetensors.numpy.load(path.read_bytes())
    assert sorted(loaded) == ["0.bias", "0.weight"]
    numpy.testing.assert_array_equal(loaded["0.weight"], model[0].weight.detach().numpy())


def test_dataclass_config_is_saved_as_json(tmp_path):
    @dataclasses.dataclass
    class Config:
        n_layer: int = 2
        dropout: float = 0.1

    checkpoint.save_checkpoint(tmp_path, nn.Linear(2, 2), config=Config())
    assert checkpoint.load_checkpoint(tmp_path)["config"] == {"n_layer": 2, "dropout": 0.1}


def test_config_that_is_not_json_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(TypeError, match="JSON"):
        checkpoint.save_checkpoint(tmp_path, nn.Linear(2, 2), config={"f": object()})
    assert not (tmp_path / "checkpoint.safetensors").exists()


def test_loading_into_a_model_it_does_not_fit_names_file_tensor_and_shapes(tmp_path):
    checkpoint.save_checkpoint(tmp_path, nn.MLP([4, 8, 3]))
    with pytest.raises(CheckpointError) as error:
        checkpoint.load_checkpoint(tmp_path, nn.MLP([4, 16, 3]))
    message = str(error.value)
    assert "checkpoint.safetensors" in message and "0.weight" in message
    assert "(8, 4)" in message and "(16, 4)" in message


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="nowhere.*not found"):
        checkpoint.load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", [lambda data: data[: len(data) // 2], lambda data: b"junk" * 5])
def test_damaged_checkpoint_names_the_path(tmp_path, damage):
    path = checkpoint.save_checkpoint(tmp_path, nn.Linear(30, 20))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match="checkpoint.safetensors.*damaged"):
        checkpoint.load_checkpoint(tmp_path, nn.Linear(30, 20))


def test_a_crash_mid_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    chainrule.manual_seed(1)
    first = nn.MLP([5, 7, 2])
    checkpoint.save_checkpoint(tmp_path, first, config={"version": 1})
    before = sorted(os.listdir(tmp_path))

    def write_half_then_crash(handle, data):
        handle.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_write_bytes", write_half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(tmp_path, nn.MLP([5, 7, 2]), config={"version": 2})
    assert sorted(os.listdir(tmp_path)) == before  # no temporary file left behind
    restored = nn.MLP([5, 7, 2])
    info = checkpoint.load_checkpoint(tmp_path, restored)
    assert_same_weights(first, restored)
    assert info["config"] == {"version": 1}
    assert json.loads((tmp_path / "config.json").read_text()) == {"version": 1}


def test_load_with_optimizer_needs_optimizer_state(tmp_path):
    model = nn.Linear(2, 2)
    checkpoint.save_checkpoint(tmp_path, model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        checkpoint.load_checkpoint(tmp_path, model, optim.Adam(model.parameters()))


def test_load_weights_refuses_a_file_that_is_not_a_checkpoint_for_load_checkpoint(tmp_path):
    path = checkpoint.save_weights(tmp_path / "w.safetensors", nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match="not a chainrule checkpoint"):
        checkpoint.load_checkpoint(path)


# ---------------------------------------------------------------- resume
FEATURES = numpy.random.default_rng(5).normal(size=(64, 6)).astype(numpy.float32)
LABELS = (FEATURES[:, 0] > 0).astype(numpy.int64) + (FEATURES[:, 1] > 0)


def build():
    model = nn.MLP([6, 16, 3], dropout=0.3)
    optimizer = optim.AdamW(model.parameters(), lr=0.01)
    scheduler = lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=2, decay_steps=6, min_lr=1e-3)
    return model, optimizer, scheduler


def train(model, optimizer, scheduler, steps):
    """Minibatches drawn and dropout masks made by the global generator, as a training loop does."""
    x, y = chainrule.tensor(FEATURES), chainrule.tensor(LABELS)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        rows = chainrule.randint(0, 64, size=(16,))
        optimizer.zero_grad()
        loss_fn(model(x[rows]), y[rows]).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()


def test_a_resumed_run_ends_with_the_same_weights_bit_for_bit(tmp_path):
    chainrule.manual_seed(42)
    straight = build()
    train(*straight, steps=6)

    chainrule.manual_seed(42)
    interrupted = build()
    train(*interrupted, steps=3)
    checkpoint.save_checkpoint(tmp_path, interrupted[0], interrupted[1], interrupted[2],
                               extra={"step": 3})

    chainrule.manual_seed(123)  # a new process: different initial weights, different generator
    resumed = build()
    info = checkpoint.load_checkpoint(tmp_path, *resumed)
    assert info["extra"] == {"step": 3}
    train(*resumed, steps=3)
    assert_same_weights(straight[0], resumed[0])
    assert resumed[2].get_last_lr() == straight[2].get_last_lr()


def test_optimizer_state_from_a_different_model_is_a_checkpoint_error(tmp_path):
    small = nn.Linear(2, 2)
    optimizer = optim.Adam(small.parameters())
    small(chainrule.ones(1, 2)).sum().backward()
    optimizer.step()
    checkpoint.save_checkpoint(tmp_path, small, optimizer)
    bigger = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    with pytest.raises(CheckpointError, match="checkpoint.safetensors.*parameters"):
        checkpoint.load_checkpoint(tmp_path, optimizer=optim.Adam(bigger.parameters()))
