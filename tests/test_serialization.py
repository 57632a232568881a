"""chainrule.save and chainrule.load: bitwise round trips, safetensors not pickle, clear errors."""
import json
import sys

import numpy
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.errors import CheckpointError


def trained_model_and_optimizer():
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, dtype=chainrule.float64))
    optimizer = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    x = chainrule.randn(5, 3)
    model(x).sum().backward()
    optimizer.step()
    return model, optimizer


def test_state_dict_round_trip_is_bitwise_and_keeps_dtypes(tmp_path):
    model, _ = trained_model_and_optimizer()
    chainrule.save(model.state_dict(), tmp_path / "model.pt")
    loaded = chainrule.load(tmp_path / "model.pt")
    assert list(loaded) == list(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert isinstance(loaded[name], chainrule.Tensor)
        assert loaded[name].dtype == tensor.dtype
        assert loaded[name].numpy().tobytes() == tensor.numpy().tobytes(), name
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, dtype=chainrule.float64))
    fresh.load_state_dict(loaded)
    x = chainrule.randn(2, 3)
    assert fresh(x).detach().numpy().tobytes() == model(x).detach().numpy().tobytes()


def test_optimizer_state_round_trip_restores_the_same_next_step(tmp_path):
    model, optimizer = trained_model_and_optimizer()
    chainrule.save(optimizer.state_dict(), tmp_path / "optimizer.pt")
    loaded = chainrule.load(tmp_path / "optimizer.pt")
    assert sorted(loaded["state"]) == [0, 1, 2, 3]  # integer keys stay integers
    assert loaded["param_groups"][0]["betas"] == (0.8, 0.9)  # tuples stay tuples
    assert isinstance(loaded["state"][0]["exp_avg"], numpy.ndarray)

    twin = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, dtype=chainrule.float64))
    twin.load_state_dict(model.state_dict())
    twin_optimizer = optim.Adam(twin.parameters())
    twin_optimizer.load_state_dict(loaded)
    x = chainrule.randn(5, 3)
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert a.detach().numpy().tobytes() == b.detach().numpy().tobytes()


def test_nested_values_round_trip_with_their_types(tmp_path):
    saved = {"epoch": 3, "best": float("inf"), "name": "run", "done": False, "nothing": None,
             "history": [0.5, 0.25], "pair": (1, "a"), "by_number": {0: "zero", 1.5: "x"},
             "scalar": chainrule.tensor(2.0, dtype=chainrule.float64),
             "mask": chainrule.tensor([True, False]), "counts": numpy.arange(3, dtype=numpy.uint8),
             "empty": numpy.zeros((0, 2)), "looks_like_a_marker": {"__tensor__": "x"}}
    chainrule.save(saved, tmp_path / "state")
    loaded = chainrule.load(tmp_path / "state")
    assert loaded.keys() == saved.keys()
    for key in ["epoch", "best", "name", "done", "nothing", "history", "pair", "by_number",
                "looks_like_a_marker"]:
        assert loaded[key] == saved[key] and type(loaded[key]) is type(saved[key]), key
    for key in ["scalar", "mask"]:
        assert isinstance(loaded[key], chainrule.Tensor)
        assert loaded[key].dtype == saved[key].dtype and loaded[key].shape == saved[key].shape
        assert loaded[key].tolist() == saved[key].tolist()
    for key in ["counts", "empty"]:
        assert isinstance(loaded[key], numpy.ndarray) and loaded[key].dtype == saved[key].dtype
        numpy.testing.assert_array_equal(loaded[key], saved[key])


def test_tensors_whose_places_spell_the_same_name_each_keep_their_own_values(tmp_path):
    # "a.b" and {"a": {"b"}} both spell the place "a.b"; the second gets a suffix, which must
    # not be a name a key already holds ("a.b#2" here), or one array silently replaces another
    saved = {"a.b#2": numpy.zeros(2), "a.b": numpy.ones(2), "a": {"b": numpy.full(2, 7.0)}}
    chainrule.save(saved, tmp_path / "state")
    loaded = chainrule.load(tmp_path / "state")
    for value, expected in [(loaded["a.b#2"], 0.0), (loaded["a.b"], 1.0), (loaded["a"]["b"], 7.0)]:
        numpy.testing.assert_array_equal(value, numpy.full(2, expected))


def test_a_key_named_as_the_safetensors_header_is_saved_under_another_name(tmp_path):
    # "__metadata__" is the header's own entry: a tensor of that name made a file that saved
    # without a word and could never be loaded (a duplicate field in its header)
    chainrule.save({"__metadata__": numpy.arange(3.0)}, tmp_path / "state")
    numpy.testing.assert_array_equal(chainrule.load(tmp_path / "state")["__metadata__"],
                                     numpy.arange(3.0))


def test_the_file_is_safetensors_not_pickle(tmp_path):
    import safetensors.numpy

    model, _ = trained_model_and_optimizer()
    chainrule.save({"model": model.state_dict(), "step": 7}, tmp_path / "all.pt")
    raw = (tmp_path / "all.pt").read_bytes()
    assert not raw.startswith((b"\x80", b"PK"))  # neither a pickle stream nor torch's zip
    arrays = safetensors.numpy.load(raw)  # any safetensors reader can open it
    assert sorted(arrays) == sorted(f"model.{name}" for name in model.state_dict())
    numpy.testing.assert_array_equal(arrays["model.0.weight"], model[0].weight.detach().numpy())
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert json.loads(header["__metadata__"]["tree"])["step"] == 7


def test_a_plain_safetensors_file_loads_as_a_dict_of_tensors(tmp_path):
    model, _ = trained_model_and_optimizer()
    chainrule.checkpoint.save_weights(tmp_path / "weights.safetensors", model)
    loaded = chainrule.load(tmp_path / "weights.safetensors", map_location="cpu",
                            weights_only=True)
    assert sorted(loaded) == sorted(model.state_dict())
    assert all(isinstance(tensor, chainrule.Tensor) for tensor in loaded.values())


def test_save_writes_atomically_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    chainrule.save({"w": chainrule.ones(3)}, path)
    before = path.read_bytes()

    def fail_halfway(handle, data):
        handle.write(data[:10])
        raise OSError("disk full")
    monkeypatch.setattr(chainrule.checkpoint, "_write_bytes", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        chainrule.save({"w": chainrule.zeros(3)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_saving_a_module_or_an_object_names_the_state_dict_way(tmp_path):
    model, optimizer = trained_model_and_optimizer()
    for thing in (model, optimizer):
        with pytest.raises(TypeError, match=r"chainrule.save\(obj.state_dict\(\), path\)"):
            chainrule.save(thing, tmp_path / "x.pt")
    with pytest.raises(TypeError, match="function .*at 'hooks.0'"):
        chainrule.save({"hooks": [lambda: None]}, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_loading_a_pickle_is_refused_with_the_safetensors_way(tmp_path):
    import pickle

    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    with pytest.raises(CheckpointError, match="torch.save or pickle.*safetensors.torch.save_file"):
        chainrule.load(path)
    (tmp_path / "zip.pt").write_bytes(b"PK\x03\x04" + bytes(100))  # torch.save's zip format
    with pytest.raises(CheckpointError, match="torch.save or pickle"):
        chainrule.load(tmp_path / "zip.pt")


def test_loading_other_files_gives_clear_errors(tmp_path):
    import safetensors.numpy

    (tmp_path / "notes.txt").write_text("hello, this is not a tensor file\n")
    with pytest.raises(CheckpointError, match="notes.txt: not a file that chainrule.save wrote"):
        chainrule.load(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        chainrule.load(tmp_path / "missing.pt")
    model, _ = trained_model_and_optimizer()
    chainrule.checkpoint.save_checkpoint(tmp_path / "run", model)
    with pytest.raises(CheckpointError, match="load_checkpoint"):
        chainrule.load(tmp_path / "run" / "checkpoint.safetensors")
    with pytest.raises(RuntimeError, match=r"backend.use\('cupy'\)"):
        chainrule.load(tmp_path / "run" / "checkpoint.safetensors", map_location="cuda")
    with pytest.raises(FileNotFoundError, match="directory"):
        chainrule.save({}, tmp_path / "no" / "such" / "dir.pt")
    # valid JSON nested deeper than Python's recursion limit (which of json and the restoring
    # walk gives up first depends on the version: 3.12 inlines comprehensions, so a walk of
    # 900 levels fits under the limit there), and nested too deep for any parser
    for depth in (sys.getrecursionlimit() + 100, 100_000):
        safetensors.numpy.save_file({"x": numpy.zeros(1)}, str(tmp_path / "deep.pt"),
                                    {"format": "chainrule.save/1",
                                     "tree": "[" * depth + "]" * depth})
        with pytest.raises(CheckpointError, match="deep.pt: the file's description of its "
                                                  "contents is damaged"):
            chainrule.load(tmp_path / "deep.pt")
