"""training.fit compiles its step by default: the same losses and weights as eager, bit for bit,
and an eager run (with one note) where the step can't be recorded."""
import io
import re

import numpy
import pytest

import chainrule
from chainrule import nn, optim, training
from chainrule.nn import functional as F

OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.1),
    "momentum": lambda params: optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "adam": lambda params: optim.Adam(params, lr=0.01),
}


def blobs(rows=110, classes=3, features=5, seed=0):
    rng = numpy.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(classes, features))
    labels = rng.integers(0, classes, size=rows)
    return (centres[labels] + rng.normal(size=(rows, features))).astype(numpy.float32), labels


def train(compile, optimizer="adam", dropout=0.3, loss=F.cross_entropy, prepare=None,
          kind=nn.MLP, dtype=numpy.float32, **options):
    """An MLP (``kind``) with dropout trained by fit for 4 epochs on 80 rows, validated on 30:
    batches of 24, 24, 24 and 8, so two batch shapes, each recorded once and replayed."""
    chainrule.manual_seed(0)
    model = kind([5, 16, 16, 3], dropout=dropout, dtype=dtype)
    if prepare is not None:
        prepare(model)
    X, y = blobs()
    X = X.astype(dtype)
    stream = io.StringIO()
    history = training.fit(model, loss, OPTIMIZERS[optimizer](model.parameters()), (X[:80], y[:80]),
                           (X[80:], y[80:]), epochs=4, batch_size=24, seed=2, stream=stream,
                           compile=compile, **options)
    weights = {name: value.data.copy() for name, value in model.state_dict().items()}
    return history, weights, stream.getvalue()


def assert_same_run(eager, compiled):
    (eager_history, eager_weights, _), (compiled_history, compiled_weights, _) = eager, compiled
    assert compiled_history["loss"] == eager_history["loss"]
    assert compiled_history["val_loss"] == eager_history["val_loss"]
    assert compiled_weights.keys() == eager_weights.keys()
    for name, array in eager_weights.items():
        numpy.testing.assert_array_equal(compiled_weights[name], array)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_a_compiled_fit_ends_with_the_eager_weights_bit_for_bit(optimizer):
    eager, compiled = train(False, optimizer), train(True, optimizer)
    assert_same_run(eager, compiled)
    assert compiled[0].compiled is True and eager[0].compiled is False
    assert "eagerly" not in compiled[2]


def test_clipping_and_a_schedule_compile_to_the_same_weights_too():
    runs = []
    for compile in (False, True):
        chainrule.manual_seed(0)
        model = nn.MLP([5, 16, 3], dropout=0.2)
        optimizer = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
        X, y = blobs()
        history = training.fit(model, F.cross_entropy, optimizer, (X, y), epochs=4,
                               batch_size=16, scheduler=scheduler, progress=False,
                               clip_grad_norm=0.5, compile=compile)
        runs.append((history, {n: v.data.copy() for n, v in model.state_dict().items()}))
    (eager_history, eager_weights), (compiled_history, compiled_weights) = runs
    assert compiled_history["loss"] == eager_history["loss"]
    for name, array in eager_weights.items():
        numpy.testing.assert_array_equal(compiled_weights[name], array)
    assert compiled_history.compiled is True


def test_a_loss_that_reads_item_trains_eagerly_with_one_note_and_the_same_weights():
    def loss(outputs, targets):
        value = F.cross_entropy(outputs, targets)
        if value.item() > 1e6:  # a Python number read inside the step: can't be recorded
            raise AssertionError("not reached")
        return value
    eager, compiled = train(False, loss=loss), train(True, loss=loss)
    assert_same_run(eager, compiled)
    assert compiled[0].compiled is False
    notes = [line for line in compiled[2].splitlines() if "eagerly" in line]
    assert len(notes) == 1 and ".item()" in notes[0]


def test_on_a_terminal_the_note_goes_above_the_progress_bar_not_into_its_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def loss(outputs, targets):
        if F.cross_entropy(outputs, targets).item() > 1e6:  # can't be recorded
            raise AssertionError("not reached")
        return F.cross_entropy(outputs, targets)
    chainrule.manual_seed(0)
    model = nn.MLP([5, 16, 3])
    X, y = blobs()
    stream = Terminal()
    training.fit(model, loss, optim.SGD(model.parameters(), lr=0.1), (X[:80], y[:80]), epochs=2,
                 batch_size=24, stream=stream)
    # tqdm redraws its line after a carriage return; a note written above the bar starts a line
    # of its own, where one printed into the bar would follow the bar's text on its line
    notes = [line for line in re.split(r"[\r\n]", stream.getvalue()) if "eagerly" in line]
    assert len(notes) == 1 and notes[0].startswith("fit: training eagerly (not compiled): ")
    assert ".item()" in notes[0]


@pytest.mark.parametrize("hook", ["module", "tensor"])
def test_hooks_make_fit_train_eagerly_with_the_same_weights(hook):
    calls = []

    def prepare(model):
        if hook == "module":
            model.register_forward_hook(lambda module, args, output: calls.append(1))
        else:
            next(model.parameters()).register_hook(lambda grad: calls.append(1))
    eager = train(False, prepare=prepare)
    eager_calls, calls[:] = len(calls), []
    compiled = train(True, prepare=prepare)
    assert_same_run(eager, compiled)
    assert compiled[0].compiled is False
    assert len(calls) == eager_calls  # every step ran the hook, as in eager mode
    assert sum("eagerly" in line for line in compiled[2].splitlines()) == 1


class RememberingMLP(nn.MLP):
    """An MLP that keeps its last output as an attribute (to plot it, say): a new object in the
    module's attributes on every call, so a recording of the step is never replayed."""

    def forward(self, inputs):
        self.last_output = super().forward(inputs)
        return self.last_output


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_step_whose_state_changes_on_every_call_trains_eagerly_to_the_same_weights(dtype):
    # the step records on its second, third, fourth... call with a batch shape, and the
    # compiler gives up after a few recordings in a row: fit goes on eagerly rather than stop
    eager = train(False, kind=RememberingMLP, dtype=dtype)
    compiled = train(True, kind=RememberingMLP, dtype=dtype)
    assert_same_run(eager, compiled)
    assert compiled[0].compiled is False
    notes = [line for line in compiled[2].splitlines() if "eagerly" in line]
    assert len(notes) == 1 and "changes on every call" in notes[0]
    assert "the attribute 'last_output' of a RememberingMLP changes" in notes[0]


def test_compile_false_trains_eagerly_without_a_note():
    history, _, output = train(False)
    assert history.compiled is False and "eagerly" not in output


def test_a_step_known_not_to_compile_runs_eagerly_from_the_start_with_one_note():
    from chainrule.training_step import TrainingStep

    chainrule.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    calls, notes = [], []

    def step(x):
        calls.append(1)  # a Python side effect: seen on every call only when eager
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        return loss
    training_step = TrainingStep(step, model, optimizer, why_eager="hooks average the gradients",
                                 note=notes.append)
    for _ in range(5):
        training_step(chainrule.ones(2, 3))
    assert len(calls) == 5 and not training_step.is_compiled
    assert notes == ["training eagerly (not compiled): hooks average the gradients"]


def test_fit_records_once_per_batch_shape_across_epochs_validation_and_checkpoints(
        tmp_path, monkeypatch):
    # evaluation switches to eval() and back, checkpoints copy the weights in and out, the
    # schedule changes the rate: none of it may make the step record again each epoch
    steps = []

    class Watched(training.TrainingStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            steps.append(self)
    monkeypatch.setattr(training, "TrainingStep", Watched)
    chainrule.manual_seed(0)
    model = nn.MLP([5, 16, 3], dropout=0.2)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    X, y = blobs()
    training.fit(model, F.cross_entropy, optimizer, (X[:80], y[:80]), (X[80:], y[80:]), epochs=6,
                 batch_size=24, scheduler=optim.lr_scheduler.CosineAnnealingLR(optimizer, 6),
                 clip_grad_norm=1.0, checkpoint_dir=tmp_path, progress=False)
    (step,) = steps
    assert step.is_compiled
    assert step.compiled.recordings == 2  # batches of 24 and the last one of 8


def test_fit_on_the_cupy_backend_trains_eagerly_with_a_note(monkeypatch):
    # compile records NumPy arrays; the check reads only the backend's name
    monkeypatch.setattr(chainrule.backend, "name", "cupy")
    history, _, output = train(True)
    assert history.compiled is False
    assert "training eagerly (not compiled)" in output and "cupy backend" in output


def test_a_recording_that_breaks_otherwise_also_falls_back_to_the_eager_weights(monkeypatch):
    from chainrule.compile import Compiled

    def broken(self, key, args):
        raise TypeError("a recording bug")
    monkeypatch.setattr(Compiled, "_record", broken)
    eager, compiled = train(False), train(True)
    assert_same_run(eager, compiled)
    assert compiled[0].compiled is False
    assert "recording the step failed (TypeError: a recording bug)" in compiled[2]


def test_an_error_of_the_step_itself_is_raised_as_eager_mode_raises_it():
    def bad_labels(outputs, targets):
        return F.cross_entropy(outputs, targets + 10)  # labels out of range, on every call
    with pytest.raises(IndexError, match="out of range"):
        train(True, loss=bad_labels)


class PairsOfColumns(chainrule.data.Dataset):
    """Each example's inputs as a pair of tensors (two columns, and three), for a model of two
    inputs: a batch is then a tuple, which chainrule.compile takes no signature of."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, row):
        return (self.X[row, :2], self.X[row, 2:]), self.y[row]


class TwoInputs(nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.first, self.second = nn.Linear(2, 3, dtype=dtype), nn.Linear(3, 3, dtype=dtype)

    def forward(self, pair):
        return self.first(pair[0]) + self.second(pair[1])


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_batches_of_a_tuple_of_inputs_train_eagerly_to_the_same_weights(dtype):
    X, y = blobs()
    runs = []
    for compile in (False, True):
        chainrule.manual_seed(0)
        model, stream = TwoInputs(dtype), io.StringIO()
        history = training.fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1),
                               PairsOfColumns(X.astype(dtype), y), epochs=2, batch_size=24,
                               stream=stream, compile=compile)
        runs.append((history, [p.data.copy() for p in model.parameters()], stream.getvalue()))
    (eager, eager_weights, _), (compiled, compiled_weights, output) = runs
    assert compiled["loss"] == eager["loss"]
    for eager_weight, compiled_weight in zip(eager_weights, compiled_weights):
        numpy.testing.assert_array_equal(compiled_weight, eager_weight)
    assert compiled.compiled is False and "argument 0 is a tuple" in output


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_loss_that_puts_the_random_generator_back_trains_eagerly_to_the_same_weights(dtype):
    # the same dropout mask on the outputs at every step, from a state kept once: a replay
    # would not put the generator back, and drew new masks, silently
    saved = []

    def same_mask_every_step(outputs, targets):
        if not saved:
            saved.append(chainrule.backend.get_rng_state())
        chainrule.backend.set_rng_state(saved[0])
        return F.cross_entropy(F.dropout(outputs, 0.5), targets)
    eager = train(False, loss=same_mask_every_step, dtype=dtype)
    saved.clear()
    compiled = train(True, loss=same_mask_every_step, dtype=dtype)
    assert_same_run(eager, compiled)
    assert compiled[0].compiled is False and "random generator's state" in compiled[2]


def test_fit_lets_go_of_the_gradients_after_each_update_and_ignores_the_callers():
    """The step ends with zero_grad() (a compiled step then updates in place of the gradients,
    as the NumPy limit does): none are left after fit, and gradients the caller left before
    fit don't enter its first step."""
    clean = train(True, "sgd")

    def stale_gradients(model):
        for p in model.parameters():
            p.grad = chainrule.tensor(numpy.ones(p.shape, dtype=numpy.float32))
    for compile in (False, True):
        left = []
        run = train(compile, "sgd",
                    prepare=lambda model: (stale_gradients(model), left.append(model)))
        assert_same_run(clean, run)
        assert all(p.grad is None for p in left[0].parameters())


def test_a_recording_that_fails_after_the_backward_is_undone_with_its_gradients(monkeypatch):
    """The call whose recording fails is run again eagerly; the gradients its backward set are
    let go of first, as fit's step doesn't zero them before its own backward."""
    eager = train(False, "sgd")
    step, calls = optim.SGD.step, []

    def fails_once(self, closure=None):
        calls.append(None)
        if len(calls) == 2:  # the second step: the one recorded
            raise RuntimeError("an optimiser that fails once")
        return step(self, closure)
    monkeypatch.setattr(optim.SGD, "step", fails_once)
    compiled = train(True, "sgd")
    assert "recording the step failed (RuntimeError: an optimiser that fails once)" in compiled[2]
    assert_same_run(eager, compiled)
