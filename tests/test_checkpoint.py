"""Checkpoints: round trips, atomic saves, clear errors, and resuming to the same weights."""
import dataclasses
import json
import os

import numpy
import pytest
import safetensors
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


# ---------------------------------------------------------------- strict JSON, checked tensors
def read_safetensors(path):
    """(tensors, metadata) of a safetensors file, with the safetensors package's own API."""
    with safetensors.safe_open(str(path), framework="np") as file:
        metadata = file.metadata()
    return safetensors.numpy.load_file(str(path)), metadata


def test_json_files_are_strict_non_finite_numbers_become_null(tmp_path):
    checkpoint.save_json(tmp_path / "metrics.json", {"loss": float("nan"), "r2": -numpy.inf,
                                                     "rmse": numpy.float32(2.5), "ok": [1.0]})
    text = (tmp_path / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "r2": None, "rmse": 2.5, "ok": [1.0]}


@pytest.mark.parametrize("content", ['{"loss": NaN}', '{"loss": Infinity}', '[1, -Infinity]'])
def test_loading_json_refuses_nan_and_infinity(tmp_path, content):
    (tmp_path / "metrics.json").write_text(content)
    with pytest.raises(CheckpointError, match=r"metrics.json: not valid JSON: .* is not a JSON "
                                              "number"):
        checkpoint.load_json(tmp_path / "metrics.json")


def test_loading_json_that_is_not_utf8_names_the_file(tmp_path):
    (tmp_path / "config.json").write_bytes(b'{"name": "\xff"}')
    with pytest.raises(CheckpointError, match="config.json: not UTF-8 text"):
        checkpoint.load_json(tmp_path / "config.json")


@pytest.mark.parametrize("dtype", [numpy.int32, numpy.bool_, numpy.float16, numpy.float64])
def test_a_tensor_of_another_dtype_is_refused_not_cast(tmp_path, dtype):
    model = nn.Linear(3, 2)
    tensors = {name: array.astype(dtype) if name == "weight" else array
               for name, array in arrays_of(model).items()}
    safetensors.numpy.save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=rf"model.safetensors: tensor 'weight' has dtype "
                                              rf"{numpy.dtype(dtype)} but the model's is float32"):
        checkpoint.load_weights(tmp_path / "model.safetensors", nn.Linear(3, 2))


@pytest.mark.parametrize("bad", [numpy.nan, numpy.inf])
def test_a_tensor_holding_nan_or_inf_is_refused(tmp_path, bad):
    tensors = arrays_of(nn.Linear(3, 2))
    tensors["bias"][0] = bad
    safetensors.numpy.save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="tensor 'bias' holds NaN or infinite values"):
        checkpoint.load_weights(tmp_path / "model.safetensors", nn.Linear(3, 2))


def test_a_checkpoint_tensor_holding_nan_is_refused(tmp_path):
    model = nn.Linear(3, 2)
    checkpoint.save_checkpoint(tmp_path, model)
    tensors, metadata = read_safetensors(tmp_path / checkpoint.CHECKPOINT_FILE)
    tensors["model.weight"][0, 0] = numpy.nan
    safetensors.numpy.save_file(tensors, str(tmp_path / checkpoint.CHECKPOINT_FILE), metadata)
    with pytest.raises(CheckpointError, match="tensor 'model.weight' holds NaN"):
        checkpoint.load_checkpoint(tmp_path, nn.Linear(3, 2))


@pytest.mark.parametrize("key, text", [("extra", "{not json"), ("optimizer", "NaN"),
                                       ("rng", "[1, 2")])
def test_damaged_metadata_is_one_error_naming_the_file_and_the_key(tmp_path, key, text):
    model = nn.Linear(3, 2)
    checkpoint.save_checkpoint(tmp_path, model, optim.SGD(model.parameters(), lr=0.1),
                               extra={"epoch": 1})
    path = tmp_path / checkpoint.CHECKPOINT_FILE
    tensors, metadata = read_safetensors(path)
    safetensors.numpy.save_file(tensors, str(path), {**metadata, key: text})
    with pytest.raises(CheckpointError, match=rf"checkpoint.safetensors: metadata '{key}': not "
                                              "valid JSON"):
        checkpoint.load_checkpoint(tmp_path, nn.Linear(3, 2))


@pytest.mark.parametrize("key", ["optimizer", "scheduler"])
def test_metadata_nested_too_deep_is_one_error_not_a_recursion_error(tmp_path, key):
    # valid JSON, 900 lists deep: restoring it recursed past Python's limit (a traceback)
    model = nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    checkpoint.save_checkpoint(tmp_path, model, optimizer,
                               optim.lr_scheduler.StepLR(optimizer, step_size=2))
    path = tmp_path / checkpoint.CHECKPOINT_FILE
    tensors, metadata = read_safetensors(path)
    safetensors.numpy.save_file(tensors, str(path), {**metadata, key: "[" * 900 + "]" * 900})
    fresh = nn.Linear(3, 2)
    fresh_optimizer = optim.SGD(fresh.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match="checkpoint.safetensors: the saved optimizer, "
                                              "scheduler or random state does not fit"):
        checkpoint.load_checkpoint(tmp_path, fresh, fresh_optimizer,
                                   optim.lr_scheduler.StepLR(fresh_optimizer, step_size=2))


def test_optimizer_state_of_the_wrong_kind_is_a_checkpoint_error(tmp_path):
    model = nn.Linear(3, 2)
    checkpoint.save_checkpoint(tmp_path, model, optim.SGD(model.parameters(), lr=0.1))
    path = tmp_path / checkpoint.CHECKPOINT_FILE
    tensors, metadata = read_safetensors(path)
    safetensors.numpy.save_file(tensors, str(path), {**metadata, "optimizer": "[1, 2]"})
    with pytest.raises(CheckpointError, match="the saved optimizer, scheduler or random state "
                                              "does not fit"):
        checkpoint.load_checkpoint(tmp_path, model, optim.SGD(model.parameters(), lr=0.1))


def test_a_weights_file_too_small_for_the_config_is_refused_before_building(tmp_path):
    checkpoint.save_weights(tmp_path / "model.safetensors", nn.Linear(3, 2))
    checkpoint.check_file_holds(tmp_path / "model.safetensors", 8, "config.json: model.sizes")
    with pytest.raises(CheckpointError, match="config.json: model.sizes: describes a model of "
                                              "4,000,000,000 parameters"):
        checkpoint.check_file_holds(tmp_path / "model.safetensors", 4 * 10 ** 9,
                                    "config.json: model.sizes")


def test_temporary_files_have_unique_names_and_none_is_left(tmp_path, monkeypatch):
    seen = []
    original = checkpoint.tempfile.mkstemp

    def recording(*args, **kwargs):
        descriptor, name = original(*args, **kwargs)
        seen.append(os.path.basename(name))
        return descriptor, name

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", recording)
    for _ in range(3):
        checkpoint.save_json(tmp_path / "history.json", {"epochs": []})
    from chainrule.metrics import History
    History([{"epoch": 1, "loss": 1.0}]).plot(tmp_path / "history.png")
    assert len(set(seen)) == len(seen) == 4
    assert all(name.startswith((".history.json.", ".history.png.")) and name.endswith(".tmp")
               for name in seen)
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["history.json", "history.png"]


def test_a_full_disk_is_an_error_naming_the_file_being_written(tmp_path, monkeypatch):
    def fill_the_disk(handle, data):
        handle.write(data[: len(data) // 2])
        raise OSError(28, "No space left on device")  # as a write to a full disk raises it

    monkeypatch.setattr(checkpoint, "_write_bytes", fill_the_disk)
    with pytest.raises(OSError) as raised:
        checkpoint.save_json(tmp_path / "metrics.json", {"loss": 1.0})
    assert raised.value.errno == 28
    assert raised.value.filename == str(tmp_path / "metrics.json")
    assert "No space left on device" in str(raised.value)
    assert os.listdir(tmp_path) == []
