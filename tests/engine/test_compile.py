"""chainrule.compile: a replayed step is the eager step, bit for bit, or it is not replayed.

Each test trains two copies of a model from the same weights, one eagerly and one compiled, and
compares losses, gradients and weights with exact equality (no tolerance: the replay performs
the same floating-point operations in the same order). The guards each get a test that changes
the state a recording can't see and checks that the compiled run still equals the eager one.
"""
import collections
import functools
import types
import warnings
import gc
import weakref

import numpy
import pytest

import chainrule
import chainrule.nn.functional as F
from chainrule import nn, optim, traced
from chainrule.replay import flat
from chainrule import CompileError
from chainrule.compile import MAX_RECORDINGS


def batches(count, size=8, features=6, classes=3, seed=0):
    rng = numpy.random.default_rng(seed)
    return [(chainrule.tensor(rng.standard_normal((size, features)).astype(numpy.float32)),
             chainrule.tensor(rng.integers(0, classes, size))) for _ in range(count)]


def twin_models(make_optimizer, activation=nn.ReLU, dropout=0.0, seed=0, make_model=None):
    """Two models with the same weights (``make_model()``, by default a 6-16-3 MLP), each with
    its optimizer and training step."""
    steps = []
    for _ in range(2):
        chainrule.manual_seed(seed)
        layers = [nn.Linear(6, 16), activation()]
        layers += [nn.Dropout(dropout)] if dropout else []
        model = make_model() if make_model else nn.Sequential(*layers, nn.Linear(16, 3))
        optimizer = make_optimizer(model.parameters())

        def step(x, y, model=model, optimizer=optimizer):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        steps.append((model, optimizer, step))
    return steps


def linear_twins(body, outputs=2, **sgd):
    """Two nn.Linear(3, outputs) with the same weights, each with SGD (lr 0.1 unless ``sgd``
    says) and a step ``x ↦ body(model, optimizer, x)``: [(model, step), (model, step)]."""
    twins = []
    for _ in range(2):
        chainrule.manual_seed(0)
        model = nn.Linear(3, outputs)
        optimizer = optim.SGD(model.parameters(), **{"lr": 0.1, **sgd})

        def step(x, model=model, optimizer=optimizer):
            return body(model, optimizer, x)
        twins.append((model, step))
    return twins


def assert_same_state(eager_model, compiled_model):
    for p, q in zip(eager_model.parameters(), compiled_model.parameters()):
        numpy.testing.assert_array_equal(p.data, q.data)
        assert p._version == q._version  # each replayed update counted, as eager counts it
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            numpy.testing.assert_array_equal(p.grad.data, q.grad.data)


def run_both(steps, data, seed=None):
    """Eager steps on the first twin, compiled on the second; the two lists of losses."""
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    losses = {"eager": [], "compiled": []}
    for name, run in (("eager", eager_step), ("compiled", compiled)):
        if seed is not None:
            chainrule.manual_seed(seed)
        for x, y in data:
            losses[name].append(run(x, y).item())
    return losses, compiled


def sgd_twins(shape, loss_of, lr=0.1):
    """Two copies of one weight (``randn(shape)`` after seed 0), each stepped by hand: the loss
    ``loss_of(x, w)``, backward, ``w -= lr · w.grad``, ``w.grad = None``. Returns the two
    weights, the eager step of the first and the compiled step of the second."""
    weights, steps = [], []
    for _ in range(2):
        chainrule.manual_seed(0)
        w = chainrule.randn(*shape, requires_grad=True)

        def step(x, w=w):
            loss = loss_of(x, w)
            loss.backward()
            with chainrule.no_grad():
                w -= lr * w.grad
            w.grad = None
            return loss
        weights.append(w)
        steps.append(step)
    return weights, steps[0], chainrule.compile(steps[1])


def assert_replays_exactly(twins, data):
    """The compiled twin gives the eager twin's losses on ``data`` and ends with its weight."""
    (eager_weight, compiled_weight), eager, compiled = twins
    assert [compiled(x).item() for x in data] == [eager(x).item() for x in data]
    numpy.testing.assert_array_equal(eager_weight.data, compiled_weight.data)


OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.1),
    "momentum": lambda params: optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "nesterov": lambda params: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda params: optim.Adam(params, lr=1e-2),
    "adamw": lambda params: optim.AdamW(params, lr=1e-2, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_compiled_run_equals_the_eager_run_bit_for_bit(name):
    steps = twin_models(OPTIMIZERS[name])
    losses, compiled = run_both(steps, batches(8))
    assert losses["compiled"] == losses["eager"]
    assert_same_state(steps[0][0], steps[1][0])
    assert compiled.recordings == 1  # recorded once, replayed six times


def test_sigmoid_and_float64_replay_exactly_too():
    chainrule.set_default_dtype(chainrule.float64)
    try:
        steps = twin_models(OPTIMIZERS["momentum"], activation=nn.Sigmoid)
        data = [(x.double(), y) for x, y in batches(6)]
        losses, _ = run_both(steps, data)
    finally:
        chainrule.set_default_dtype(chainrule.float32)
    assert losses["compiled"] == losses["eager"]
    assert_same_state(steps[0][0], steps[1][0])


def test_dropout_draws_fresh_masks_from_the_same_generator_as_eager():
    steps = twin_models(OPTIMIZERS["sgd"], dropout=0.5)
    same_batch = batches(1)[0]
    losses, _ = run_both(steps, [same_batch] * 6, seed=7)
    assert losses["compiled"] == losses["eager"]
    assert len(set(losses["compiled"][2:])) > 1  # replays: a new mask on each call
    assert_same_state(steps[0][0], steps[1][0])


def test_the_program_prints_as_forward_backward_and_update_tables():
    steps = twin_models(OPTIMIZERS["sgd"])
    _, compiled = run_both(steps, batches(3))
    text = str(compiled.program)
    lines = text.splitlines()
    assert [line for line in lines[1:] if not line.startswith(" ")] == ["forward:", "backward:",
                                                                      "update:"]
    assert len(lines) == 1 + 3 + len(list(flat(compiled.program.instructions)))
    assert "dot(v1:input" in text and "SGD.step()" in text and ".grad = v" in text
    assert "subtract(v" in text.split("update:")[1]  # the update, as array operations


def test_returned_tensors_are_copies_not_the_programs_buffers():
    steps = twin_models(OPTIMIZERS["sgd"])
    compiled = chainrule.compile(steps[1][2])
    losses = [compiled(x, y) for x, y in batches(5)]
    assert len({loss.item() for loss in losses}) == 5
    assert not losses[-1].requires_grad


# ---------------------------------------------------------------- guards
def test_a_new_batch_size_records_a_new_program():
    steps = twin_models(OPTIMIZERS["adam"])
    data = batches(4, size=8) + batches(4, size=5, seed=1) + batches(2, size=8, seed=2)
    losses, compiled = run_both(steps, data)
    assert losses["compiled"] == losses["eager"]
    assert compiled.recordings == 2 and len(compiled.programs) == 2
    assert_same_state(steps[0][0], steps[1][0])


def test_the_cache_of_programs_is_bounded():
    steps = twin_models(OPTIMIZERS["sgd"])
    compiled = chainrule.compile(steps[1][2], max_programs=2)
    for size in (4, 5, 6):
        for x, y in batches(2, size=size):
            compiled(x, y)
    assert len(compiled.programs) == 2


def test_a_schedulers_learning_rate_is_read_live():
    steps = twin_models(OPTIMIZERS["momentum"])
    schedulers = [optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
                  for _, optimizer, _ in steps]
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    for x, y in batches(7):
        assert compiled(x, y).item() == eager_step(x, y).item()
        for scheduler in schedulers:
            scheduler.step()
    assert compiled.recordings == 1
    assert_same_state(eager_model, compiled_model)


def test_a_parameter_frozen_between_calls_records_again():
    steps = twin_models(OPTIMIZERS["sgd"])
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    for index, (x, y) in enumerate(batches(8)):
        if index == 4:
            eager_model[0].weight.requires_grad_(False)
            compiled_model[0].weight.requires_grad_(False)
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.recordings == 2
    assert_same_state(eager_model, compiled_model)


def test_a_parameter_given_a_new_array_or_replaced_records_again():
    steps = twin_models(OPTIMIZERS["sgd"])
    (eager_model, eager_optimizer, eager_step), (compiled_model, optimizer, step) = steps
    compiled = chainrule.compile(step)
    for index, (x, y) in enumerate(batches(9)):
        for model, opt in ((eager_model, eager_optimizer), (compiled_model, optimizer)):
            if index == 3:  # the tensor stays, its array is new
                model[0].bias.data = numpy.full(16, 0.5, dtype=numpy.float32)
            if index == 6:  # the module gets a new parameter object
                model[2].bias = nn.Parameter(chainrule.zeros(3))
                opt.add_param_group({"params": [model[2].bias]})
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.recordings == 3
    assert_same_state(eager_model, compiled_model)


def test_an_attribute_added_to_a_module_or_renamed_records_again():
    steps = twin_models(OPTIMIZERS["sgd"])
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    for index, (x, y) in enumerate(batches(9)):
        for model in (eager_model, compiled_model):
            if index == 3:  # one attribute more
                model[1].note = "added"
            if index == 6:  # as many attributes as before, one of another name
                del model[1].note
                model[1].other_note = "renamed"
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.recordings == 3
    assert_same_state(eager_model, compiled_model)


def test_switching_to_eval_mode_records_again():
    steps = twin_models(OPTIMIZERS["sgd"], dropout=0.5)
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    for name, run, model in (("eager", eager_step, eager_model),
                             ("compiled", compiled, compiled_model)):
        chainrule.manual_seed(3)
        trace = []
        for index, (x, y) in enumerate(batches(8)):
            if index == 4:
                model.eval()
            trace.append(run(x, y).item())
        if name == "eager":
            expected = trace
    assert trace == expected
    assert compiled.recordings == 2


def test_switching_between_train_and_eval_replays_a_program_for_each():
    steps = twin_models(OPTIMIZERS["sgd"], dropout=0.5)
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    traces = []
    for run, model in ((eager_step, eager_model), (compiled, compiled_model)):
        chainrule.manual_seed(3)
        trace = []
        for index, (x, y) in enumerate(batches(20)):
            if index % 4 == 0:  # train, eval, train...: a change every fourth call
                model.train(index % 8 == 0)
            trace.append(run(x, y).item())
        traces.append(trace)
    assert traces[1] == traces[0]
    assert compiled.recordings == 2  # one for train mode, one for eval, each replayed after


def test_a_list_returned_by_the_step_is_a_list_on_every_call_as_in_eager_mode():
    model = nn.Linear(3, 2)
    compiled = chainrule.compile(lambda x: [model(x).sum(), (model(x), None)])
    x = chainrule.tensor(numpy.ones((4, 3), dtype=numpy.float32))
    results = [compiled(x) for _ in range(3)]  # eager, recorded, replayed
    assert compiled.recordings == 1
    assert [type(result) for result in results] == [list] * 3
    assert [type(result[1]) for result in results] == [tuple] * 3
    assert all(result[1][1] is None for result in results)
    assert results[2][0].item() == results[0][0].item()
    assert (results[2][1][0].data == results[0][1][0].data).all()


def test_a_named_tuple_returned_by_the_step_is_refused_by_name():
    """A replay returns plain tuples and lists; a NamedTuple would come back as a tuple."""
    Result = collections.namedtuple("Result", "loss logits")
    model = nn.Linear(3, 2)
    compiled = chainrule.compile(lambda x: Result(model(x).sum(), model(x)))
    x = chainrule.tensor(numpy.ones((4, 3), dtype=numpy.float32))
    assert type(compiled(x)) is Result  # the first call, eager
    with pytest.raises(CompileError, match="returned a Result"):
        compiled(x)


def test_python_values_returned_from_the_step_are_refused():
    model = nn.Linear(2, 1)
    compiled = chainrule.compile(lambda x: (model(x).sum(), 0.5))
    x = chainrule.tensor([[1.0, 2.0]])
    compiled(x)
    with pytest.raises(CompileError, match="returned a float"):
        compiled(x)


def test_a_branch_on_a_value_that_goes_the_other_way_runs_that_call_eagerly():
    def step(x):
        if x.sum() > 0:
            return x * 2
        return x - 1
    compiled = chainrule.compile(step)
    inputs = [chainrule.tensor([1.0, 2.0]), chainrule.tensor([3.0, 1.0]),
              chainrule.tensor([1.0, 1.0]), chainrule.tensor([-5.0, 1.0])]
    results = [compiled(x).tolist() for x in inputs]
    assert results == [step(x).tolist() for x in inputs]
    assert results[-1] == [-6.0, 0.0]
    assert compiled.recordings == 1


def test_a_branch_after_the_update_that_changes_is_an_error_naming_it():
    model = nn.Linear(2, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        return loss * 2 if model.weight.sum() > -100 else loss
    compiled = chainrule.compile(step)
    x = chainrule.tensor([[1.0, 2.0]])
    for _ in range(3):
        compiled(x)
    with chainrule.no_grad():
        model.weight.fill_(-1000.0)
    with pytest.raises(CompileError, match="check on a tensor's value .* went the other way"):
        compiled(x)


def test_reading_a_value_into_python_inside_the_step_is_refused():
    model = nn.Linear(2, 1)
    history = []

    def step(x):
        loss = model(x).sum()
        history.append(loss.item())
        return loss
    compiled = chainrule.compile(step)
    x = chainrule.tensor([[1.0, 2.0]])
    compiled(x)  # the first call is eager: nothing to refuse yet
    with pytest.raises(CompileError, match=r"\.item\(\)"):
        compiled(x)


def test_gradients_accumulated_across_calls_are_read_live():
    def body(model, optimizer, x):  # no zero_grad: each call adds to .grad
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        return loss
    steps = linear_twins(body, momentum=0.5)
    data = [chainrule.tensor([[1.0, 2.0, -1.0]]) * (index + 1) for index in range(6)]
    compiled = chainrule.compile(steps[1][1])
    assert [compiled(x).item() for x in data] == [steps[0][1](x).item() for x in data]
    assert compiled.recordings == 1
    assert_same_state(steps[0][0], steps[1][0])


def test_a_gradient_kept_across_calls_shares_its_buffer_with_nothing():
    """The gradients a call leaves are read by the next (no zero_grad): had one been given the
    buffer of a result that died before it (here a (3, 3) activation, as big as a weight's
    gradient), the next call would overwrite it before adding to it."""
    steps = []
    for _ in range(2):
        chainrule.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(),
                              nn.Linear(3, 1))
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(x, model=model, optimizer=optimizer):
            loss = (model(x) * model(x)).sum()
            loss.backward()
            optimizer.step()
            return loss
        steps.append((model, step))
    rng = numpy.random.default_rng(0)
    data = [chainrule.tensor(rng.standard_normal((3, 3)).astype(numpy.float32))
            for _ in range(6)]
    compiled = chainrule.compile(steps[1][1])
    assert [compiled(x).item() for x in data] == [steps[0][1](x).item() for x in data]
    assert compiled.recordings == 1
    assert_same_state(steps[0][0], steps[1][0])


def test_manual_sgd_with_gradients_zeroed_in_place_replays_exactly():
    tensors, steps = [], []
    for _ in range(2):
        chainrule.manual_seed(0)
        w, b = chainrule.randn(6, 3, requires_grad=True), chainrule.zeros(3, requires_grad=True)

        def step(x, y, w=w, b=b):  # w ← w − α ∂L/∂w by hand, as a manual loop writes it
            loss = F.cross_entropy(x @ w + b, y)
            loss.backward()
            with chainrule.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
                w.grad.zero_()
                b.grad.zero_()
            return loss
        tensors.append((w, b))
        steps.append(step)
    compiled = chainrule.compile(steps[1])
    data = batches(6, size=5)
    assert [compiled(x, y).item() for x, y in data] == [steps[0](x, y).item() for x, y in data]
    assert compiled.recordings == 1
    for p, q in zip(*tensors):
        numpy.testing.assert_array_equal(p.data, q.data)
        numpy.testing.assert_array_equal(p.grad.data, q.grad.data)
        assert p._version == q._version


def test_a_step_that_drops_the_gradients_it_finds_replays():
    """`if p.grad is not None: p.grad = None` looks at the gradient the last call left, not at
    its numbers: the replay is guarded by that gradient being there, not by its identity (each
    call leaves a new one, so that recorded again on every call, then raised CompileError)."""
    def drop_then_step(model, optimizer, x):
        for p in model.parameters():
            if p.grad is not None:
                p.grad = None
        loss = (model(x) ** 2).sum()
        loss.backward()
        optimizer.step()
        return loss
    (eager_model, eager), (compiled_model, step) = linear_twins(drop_then_step)
    compiled = chainrule.compile(step)
    data = [x for x, _ in batches(6, features=3)]
    assert [compiled(x).item() for x in data] == [eager(x).item() for x in data]
    assert compiled.recordings == 1
    assert_same_state(eager_model, compiled_model)


def test_a_state_that_changes_on_every_call_is_an_error_naming_it():
    model = nn.Linear(2, 1)
    compiled = chainrule.compile(lambda x: model(x).sum())
    x = chainrule.tensor([[1.0, 2.0]])
    with pytest.raises(CompileError, match="data of a Parameter of shape"):
        for _ in range(8):
            model.weight.data = numpy.ones((1, 2), dtype=numpy.float32)  # a new array each time
            compiled(x)


def test_an_attribute_or_item_that_changes_on_every_call_is_named_in_the_error():
    chainrule.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2))
    x = chainrule.tensor([[1.0, 2.0]])
    compiled = chainrule.compile(lambda x: model(x).sum())
    with pytest.raises(CompileError, match="the attribute 'note' of a Sequential changes"):
        for call in range(8):
            model.note = [call]  # a new object on every call, though the step never reads it
            compiled(x)
    compiled = chainrule.compile(lambda x: model(x).sum())
    with pytest.raises(CompileError, match="an item of a Sequential changes"):
        for _ in range(8):
            model[0] = nn.Linear(2, 2)
            compiled(x)


def test_hooks_are_refused_by_name():
    model = nn.Linear(2, 1)
    model.register_forward_hook(lambda module, args, output: None)
    compiled = chainrule.compile(lambda x: model(x).sum())
    x = chainrule.tensor([[1.0, 2.0]])
    compiled(x)
    with pytest.raises(CompileError, match="Linear has hooks"):
        compiled(x)

    other = nn.Linear(2, 1)
    other.weight.register_hook(lambda grad: grad * 2)

    def step(x):
        loss = other(x).sum()
        loss.backward()
        return loss
    compiled = chainrule.compile(step)
    compiled(x)
    with pytest.raises(CompileError, match="register_hook"):
        compiled(x)


def test_a_tensor_hook_registered_after_replays_stops_the_replay_and_its_removal_resumes_it():
    """A replay runs no hook: one registered on a parameter after the recording must not be
    skipped silently. The next call records again, which refuses the hook by name."""
    steps = twin_models(OPTIMIZERS["sgd"])
    (eager_model, _, eager_step), (model, _, step) = steps
    compiled = chainrule.compile(step)
    data = batches(6)
    for x, y in data[:3]:
        assert compiled(x, y).item() == eager_step(x, y).item()
    calls = []
    handle = next(model.parameters()).register_hook(lambda grad: calls.append(1))
    with pytest.raises(CompileError, match="register_hook"):
        compiled(*data[3])
    assert calls == []  # refused as it was about to run, before the update: weights unchanged
    handle.remove()
    for x, y in data[4:]:
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.recordings == 1  # the first program replays again
    assert_same_state(eager_model, model)


def test_a_module_hook_added_again_after_one_was_removed_stops_the_replay():
    """Removing a hook leaves the module's (empty) hooks object; adding one again fills it in
    place. A replay runs no hook, so the guard must look inside."""
    steps = twin_models(OPTIMIZERS["sgd"])
    model, step = steps[1][0], steps[1][2]
    model[0].register_forward_hook(lambda module, args, output: None).remove()
    compiled = chainrule.compile(step)
    data = batches(4)
    for x, y in data[:3]:
        compiled(x, y)
    model[0].register_forward_hook(lambda module, args, output: output * 0)
    with pytest.raises(CompileError, match="Linear has hooks"):
        compiled(*data[3])


def test_a_schedule_stepped_with_a_value_inside_the_step_is_refused():
    model = nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    schedule = optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0)

    def step(x):
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        schedule.step(loss)  # the loss of this call: a replay can't step with it
        return loss
    compiled = chainrule.compile(step)
    compiled(chainrule.ones(2, 3))  # the first call runs eagerly
    with pytest.raises(CompileError, match="ReduceLROnPlateau.step\\(\\) was given a value"):
        compiled(chainrule.ones(2, 3))


def test_a_step_that_sets_an_optimisers_settings_itself_is_refused_and_a_schedule_is_not():
    """A replay runs none of the step's Python: a learning rate the step writes into its
    optimiser's group would keep whatever an earlier call left there. A schedule stepped inside
    the step runs live, so it may write; after the recording the groups are the plain dicts."""
    model = nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    def step(x, lr):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
        return loss
    compiled = chainrule.compile(step)
    compiled(chainrule.ones(2, 3), 0.05)  # the first call runs eagerly
    with pytest.raises(CompileError, match="sets 'lr' of an optimiser's parameter group itself"):
        compiled(chainrule.ones(2, 3), 0.05)
    assert type(optimizer.param_groups[0]) is dict

    steps = twin_models(OPTIMIZERS["momentum"])
    schedules = [optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
                 for _, optimizer, _ in steps]

    def scheduled(twin, schedule):
        def step(x, y):
            loss = twin[2](x, y)
            schedule.step()
            return loss
        return twin[0], twin[1], step
    steps = [scheduled(twin, schedule) for twin, schedule in zip(steps, schedules)]
    losses, compiled = run_both(steps, batches(5))
    assert losses["compiled"] == losses["eager"] and compiled.recordings == 1
    assert steps[1][1].param_groups[0]["lr"] == steps[0][1].param_groups[0]["lr"] == 0.05 / 32
    assert type(steps[1][1].param_groups[0]) is dict


def test_a_python_float_argument_is_matched_by_its_bits():
    compiled = chainrule.compile(lambda x, scale: x * scale)
    x = chainrule.tensor([1.0, -1.0])
    for scale in (0.0, 0.0, 0.0, -0.0, -0.0, -0.0, 0.0):
        result = compiled(x, scale)
        numpy.testing.assert_array_equal(numpy.signbit(result.data),
                                         numpy.signbit((x * scale).data))
    assert compiled.recordings == 2
    nan = float("nan")
    for _ in range(4):
        assert numpy.isnan(compiled(x, nan).data).all()
    assert compiled.recordings == 3  # NaN, whose == is never true, replays too


def test_random_numbers_from_a_generator_passed_by_hand_are_refused():
    generator = numpy.random.default_rng(0)
    compiled = chainrule.compile(lambda x: F.dropout(x, 0.5, generator=generator) * 1)
    x = chainrule.ones(4)
    compiled(x)
    with pytest.raises(CompileError, match="generator passed by hand"):
        compiled(x)


def test_tensors_made_from_python_data_inside_the_step_are_refused():
    compiled = chainrule.compile(lambda x: x * chainrule.tensor([1.0, 2.0]))
    x = chainrule.ones(2)
    compiled(x)
    with pytest.raises(CompileError, match="Pass it to the step as an argument"):
        compiled(x)


def test_arguments_that_need_gradients_or_are_not_tensors_are_refused():
    compiled = chainrule.compile(lambda x: x * 2)
    with pytest.raises(CompileError, match="argument 0 requires grad"):
        compiled(chainrule.ones(2, requires_grad=True))
    with pytest.raises(CompileError, match="argument 0 is a dict"):
        compiled({"x": 1})


def test_python_arguments_are_part_of_the_signature():
    compiled = chainrule.compile(lambda x, scale: x * scale)
    x = chainrule.tensor([1.0, 2.0])
    results = [compiled(x, scale).tolist() for scale in (2.0, 2.0, 2.0, 3.0, 3.0, 3.0)]
    assert results == [[2.0, 4.0]] * 3 + [[3.0, 6.0]] * 3
    assert compiled.recordings == 2


def test_each_part_of_the_signature_is_checked_on_the_calls_after_a_replay_too():
    """After a replay the next call is tried on the same program first (one written test of the
    whole signature and the guards): a change of any part must still record anew, and going back
    replay the first program again."""
    weight = chainrule.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    compiled = chainrule.compile(lambda x, scale: (x @ weight * scale).sum())
    x32 = chainrule.tensor([[1.0, 2.0]])
    x64 = chainrule.tensor([[1.0, 2.0]], dtype="float64")
    changes = [
        ("shape", lambda: (chainrule.tensor([[1.0, 2.0], [3.0, 4.0]]), 2.0)),
        ("dtype", lambda: (x64, 2.0)),
        ("strides", lambda: (chainrule.tensor([[1.0], [2.0]]).t(), 2.0)),
        ("an array", lambda: (x32.numpy(), 2.0)),
        ("a Python value", lambda: (x32, 3.0)),
        ("its type", lambda: (x32, 2)),
    ]
    for _ in range(3):
        assert compiled(x32, 2.0).item() == 12.0  # 2 · ((1 + 1) + (−2 + 6))
    for what, arguments in changes:
        before = compiled.recordings
        results = [compiled(*arguments()).item() for _ in range(3)]
        assert compiled.recordings == before + 1, what  # its first call eager, then recorded
        assert compiled(x32, 2.0).item() == 12.0 and compiled.recordings == before + 1, what
        assert len(set(results)) == 1, what
    with chainrule.no_grad():
        before = compiled.recordings
        assert [compiled(x32, 2.0).item() for _ in range(3)] == [12.0] * 3
        assert compiled.recordings == before + 1  # grad mode is part of the signature
    chainrule.set_default_dtype("float64")
    try:
        before = compiled.recordings
        assert [compiled(x32, 2.0).item() for _ in range(3)] == [12.0] * 3
        assert compiled.recordings == before + 1  # so is the default dtype
    finally:
        chainrule.set_default_dtype("float32")


def test_gradients_zeroed_in_place_by_zero_grad_replay_exactly():
    """zero_grad(set_to_none=False) writes zeros into the gradients it finds: the replay reads
    them live, so one recording serves every call."""
    steps = []
    for _ in range(2):
        chainrule.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def step(x, y, model=model, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        steps.append((model, optimizer, step))
    losses, compiled = run_both(steps, batches(6))
    assert losses["compiled"] == losses["eager"] and compiled.recordings == 1
    assert_same_state(steps[0][0], steps[1][0])


@pytest.mark.parametrize("where", ["first", "last"])
def test_writes_to_the_gradients_are_counted_in_their_versions_as_eager_counts_them(where):
    """Each call's backward makes new gradients (version 0) and the step's own writes to them
    count (clipping, zero_grad(set_to_none=False)); the replay's gradients are the same buffers
    on every call, and counted nothing: ``p.grad._version`` was 0 where eager mode says 1 or 2."""
    def clip_and_step(model, optimizer, x):
        if where == "first":
            optimizer.zero_grad(set_to_none=False)
        loss = (model(x) ** 2).sum()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.5)
        optimizer.step()
        if where == "last":
            optimizer.zero_grad(set_to_none=False)
        return loss
    (eager_model, eager), (compiled_model, step) = linear_twins(clip_and_step)
    compiled = chainrule.compile(step)
    for x, _ in batches(6, features=3):
        assert compiled(x).item() == eager(x).item()
        assert [p.grad._version for p in compiled_model.parameters()] == \
            [p.grad._version for p in eager_model.parameters()]
    assert compiled.recordings == 1
    assert_same_state(eager_model, compiled_model)


def test_a_gradient_written_in_the_call_that_records_keeps_its_count():
    """The call that records leaves plain arrays in .grad in place of the recording's: a batch
    norm's bias gradient (a reduction's result) lost the write counted on it there."""
    twins = []
    for _ in range(2):
        chainrule.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4))
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y, model=model, optimizer=optimizer):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            with chainrule.no_grad():
                model[1].bias.grad.mul_(0.5)
            optimizer.step()
            return loss
        twins.append((model, step))
    (eager_model, eager), (compiled_model, step) = twins
    compiled = chainrule.compile(step)
    for x, y in batches(4, classes=4):
        assert compiled(x, y).item() == eager(x, y).item()
        assert [p.grad._version for p in compiled_model.parameters()] == \
            [p.grad._version for p in eager_model.parameters()]
    assert compiled.recordings == 1
    assert_same_state(eager_model, compiled_model)


@pytest.mark.parametrize("frozen_at", [2, 4])
def test_a_frozen_parameters_gradient_zeroed_in_place_counts_its_writes_as_eager_does(frozen_at):
    """A gradient a recording made (a view of its array) and a later recording read: a weight
    frozen between calls, its old gradient zeroed in place by ``zero_grad(set_to_none=False)``
    on every call. That recording's stand-in of the view counted the write apart from the
    gradient's storage, and the call lost it: counts 0, 1, 2 where eager mode counts 1, 2, 3."""
    def zero_first(model, optimizer, x):
        optimizer.zero_grad(set_to_none=False)
        loss = (model(x) ** 2).sum()
        loss.backward()
        optimizer.step()
        return loss
    (eager_model, eager), (compiled_model, step) = linear_twins(zero_first)
    compiled = chainrule.compile(step)
    for call, (x, _) in enumerate(batches(7, features=3)):
        if call == frozen_at:
            eager_model.weight.requires_grad_(False)
            compiled_model.weight.requires_grad_(False)
        assert compiled(x).item() == eager(x).item()
        assert compiled_model.weight.grad._version == eager_model.weight.grad._version
        assert_same_state(eager_model, compiled_model)
    assert compiled.recordings == 2


def test_a_parameter_that_views_another_tensor_counts_its_writes_on_their_storage():
    """``Parameter(w.T)`` shares w's memory, and so its count of writes. The recording's
    stand-in of its array, a view, counted the update apart from that storage: the call that
    recorded ended one version behind eager mode's, for the parameter and for w."""
    twins = []
    for _ in range(2):
        chainrule.manual_seed(0)
        weight = chainrule.randn(3, 6)
        transposed, bias = nn.Parameter(weight.T), nn.Parameter(chainrule.zeros(3))
        optimizer = optim.SGD([transposed, bias], lr=0.1)

        def step(x, y, transposed=transposed, bias=bias, optimizer=optimizer):
            optimizer.zero_grad()
            loss = F.cross_entropy(x @ transposed + bias, y)
            loss.backward()
            optimizer.step()
            return loss
        twins.append((weight, transposed, step))
    (eager_weight, eager_transposed, eager), (weight, transposed, step) = twins
    compiled = chainrule.compile(step)
    for x, y in batches(4):
        assert compiled(x, y).item() == eager(x, y).item()
        assert (transposed._version, weight._version) == \
            (eager_transposed._version, eager_weight._version)
        numpy.testing.assert_array_equal(weight.data, eager_weight.data)
    assert compiled.recordings == 1


def test_gradients_set_to_none_at_the_end_of_the_step_stay_none():
    """zero_grad's None is left out of a replay when the backward overwrites it; one the step
    ends with is kept."""
    def then_zeroed(model, optimizer, step):
        def step_then_zero(x, y):
            loss = step(x, y)
            optimizer.zero_grad()
            return loss
        return model, optimizer, step_then_zero
    steps = [then_zeroed(*twin) for twin in twin_models(OPTIMIZERS["momentum"])]
    losses, compiled = run_both(steps, batches(5))
    assert losses["compiled"] == losses["eager"] and compiled.recordings == 1
    assert all(p.grad is None for p in steps[1][0].parameters())
    assert_same_state(steps[0][0], steps[1][0])


HELD = {"the tensor": lambda grad: grad, "its array": lambda grad: grad.numpy(),
        "a view of it": lambda grad: grad.data[1:]}


@pytest.mark.parametrize("hold", HELD.values(), ids=HELD.keys())
@pytest.mark.parametrize("then_zeroed", [False, True], ids=["", "then zero_grad"])
def test_gradients_held_from_earlier_calls_keep_the_values_eager_mode_gives_them(hold,
                                                                                then_zeroed):
    """A replay writes its gradients into the same buffers on every call. A gradient an earlier
    call left that the caller still holds (a history of gradients, to plot; its array, or a
    view of it; the parameters' .grad cleared since or not) keeps its values: the call records
    into new buffers, or replays a program whose buffers nobody holds. Once the gradients are
    let go, the calls replay again without recording."""
    (eager_model, _, eager_step), (model, optimizer, step) = twin_models(OPTIMIZERS["momentum"])
    compiled = chainrule.compile(step)
    eager_history, history = [], []
    for x, y in batches(8):
        assert compiled(x, y).item() == eager_step(x, y).item()
        eager_history.append([hold(p.grad) for p in eager_model.parameters()])
        history.append([hold(p.grad) for p in model.parameters()])
        if then_zeroed:
            optimizer.zero_grad()
            eager_model.zero_grad()
    assert_same_state(eager_model, model)
    for eager_grads, grads in zip(eager_history, history):
        for eager_grad, grad in zip(eager_grads, grads):
            numpy.testing.assert_array_equal(getattr(grad, "data", grad),
                                             getattr(eager_grad, "data", eager_grad))
    recordings = compiled.recordings
    assert recordings <= 5  # every other call (a program per call it left held, four kept)
    del history, grads, grad
    for x, y in batches(4, seed=1):
        eager_step(x, y)
        compiled(x, y)
    assert compiled.recordings == recordings
    assert_same_state(eager_model, model)


def test_gradients_held_while_the_step_adds_to_them_keep_the_values_eager_mode_gives_them():
    """Without zero_grad each call reads .grad and adds to it: the replay adds into the buffer
    it left there, which a caller holding the last call's gradient still holds."""
    def body(model, optimizer, x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        optimizer.step()
        return loss
    (eager_model, eager_step), (model, step) = linear_twins(body)
    compiled = chainrule.compile(step)
    eager_history, history = [], []
    for index in range(8):
        x = chainrule.tensor([[1.0, 2.0, -1.0]]) * (index + 1)
        assert compiled(x).item() == eager_step(x).item()
        eager_history.append(eager_model.weight.grad)
        history.append(model.weight.grad)
    for eager_grad, grad in zip(eager_history, history):
        numpy.testing.assert_array_equal(grad.data, eager_grad.data)
    assert_same_state(eager_model, model)


def test_an_operation_the_step_runs_under_its_own_errstate_replays_under_it():
    """sigmoid's e⁻ᵃ overflows to inf on purpose (σ = 1/inf = 0), under numpy.errstate: a replay
    sets it again around that operation, so with NumPy set to raise on overflow the compiled
    step runs as the eager one does, and an overflow elsewhere still raises in both."""
    steps = twin_models(OPTIMIZERS["sgd"], activation=nn.Sigmoid)
    data = [(x * 100, y) for x, y in batches(5)]  # pre-activations far below −89: e⁻ᵃ = inf
    with numpy.errstate(over="raise"):
        losses, compiled = run_both(steps, data)
    assert losses["compiled"] == losses["eager"] and compiled.recordings == 1
    assert_same_state(steps[0][0], steps[1][0])

    def function(x, scale):
        return (x.sigmoid() + x * scale).sum()
    step = chainrule.compile(function)
    x, one, huge = (chainrule.tensor(value) for value in ([-100.0, 3.0], [1.0], [1e38]))
    with numpy.errstate(over="raise"):
        expected = function(x, one).item()
        assert [step(x, one).item() for _ in range(4)] == [expected] * 4
        assert step.recordings == 1
        with pytest.raises(FloatingPointError):  # x · 10³⁸ overflows: NumPy's own setting holds
            step(x, huge)


def test_a_program_let_go_of_is_freed_at_once_with_its_buffers():
    """A caller that keeps every call's gradients makes the step record every other call, and
    the oldest program of the signature is let go of: it is freed then (reference counting),
    with every buffer of the step, not whenever Python's cycle collector next runs."""
    (_, _, _), (model, _, step) = twin_models(OPTIMIZERS["sgd"])
    compiled = chainrule.compile(step)
    history, first = [], None
    collecting = gc.isenabled()
    gc.disable()
    try:
        for x, y in batches(12):
            compiled(x, y)
            history.append([p.grad for p in model.parameters()])
            first = first or (compiled.program and weakref.ref(compiled.program))
        assert compiled.recordings > MAX_RECORDINGS + 1  # (so the first was let go of)
        assert first() is None
    finally:
        if collecting:
            gc.enable()


@pytest.mark.parametrize("returned", [False, True], ids=["compared", "returned"])
def test_a_gradient_from_before_the_call_read_after_the_step_adds_to_it_keeps_its_values(
        returned):
    """Without zero_grad the step adds into the gradient the last call left, which from the
    second replay on is the program's own buffer: a step that still reads the old gradient
    after the backward (to compare the two, or to return it) reads eager mode's values, not
    the new ones written over it."""
    twins = twin_models(OPTIMIZERS["sgd"])
    steps = []
    for model, optimizer, _ in twins:
        for p in model.parameters():
            p.grad = chainrule.zeros_like(p)

        def step(x, y, model=model, optimizer=optimizer):
            before = model[0].weight.grad
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss, before if returned else (model[0].weight.grad - before).abs().sum()
        steps.append(step)
    eager_step, compiled = steps[0], chainrule.compile(steps[1])
    for x, y in batches(8):
        (eager_loss, eager_read), (loss, read) = eager_step(x, y), compiled(x, y)
        assert loss.item() == eager_loss.item()
        numpy.testing.assert_array_equal(read.data, eager_read.data)
    assert_same_state(twins[0][0], twins[1][0])
    assert compiled.recordings == 2  # two programs take turns, each reading the other's


VIEWS = {"a slice of its array": lambda grad: grad.data[1:],
         "its array flattened": lambda grad: grad.data.ravel(),
         "its transpose": lambda grad: grad.T}


@pytest.mark.parametrize("hold", VIEWS.values(), ids=VIEWS.keys())
def test_a_view_held_of_a_gradient_that_is_a_view_itself_keeps_its_values(hold):
    """A convolution's weight gradient is a view of a buffer of the program (its result laid
    out as the operands were); a view the caller takes of it refers to that buffer, not to the
    gradient's array, and is held as well: the call records rather than write into it."""
    def convolution():
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 3))
    (eager_model, _, eager_step), (model, _, step) = twin_models(OPTIMIZERS["sgd"],
                                                                make_model=convolution)
    compiled = chainrule.compile(step)
    eager_history, history = [], []
    rng = numpy.random.default_rng(0)
    for _ in range(6):
        x = chainrule.tensor(rng.standard_normal((4, 2, 4, 4)).astype(numpy.float32))
        y = chainrule.tensor(rng.integers(0, 3, 4))
        assert compiled(x, y).item() == eager_step(x, y).item()
        eager_history.append(hold(eager_model[0].weight.grad))  # that gradient's only
        history.append(hold(model[0].weight.grad))
    for eager_grad, grad in zip(eager_history, history):
        numpy.testing.assert_array_equal(getattr(grad, "data", grad),
                                         getattr(eager_grad, "data", eager_grad))
    assert_same_state(eager_model, model)
    # (what the test is about: the program hands that gradient out as a view)
    assert [gradient.data.base is not None for parameter, gradient, _
            in compiled.program.handed_out.given if parameter is model[0].weight] == [True]


@pytest.mark.parametrize("set_to_none", [None, False], ids=["no zero_grad", "zeroed in place"])
@pytest.mark.parametrize("holding", [False, True], ids=["", "the last gradients held"])
def test_gradients_read_live_by_two_programs_are_kept_by_neither(set_to_none, holding):
    """A step that reads .grad (adds into it, or zeroes it in place) recorded for two batch
    sizes: each program reads the gradient the other left, and keeps no reference to it (nor
    counts a write on it after the call), which would count as held by the caller: the two
    replay in turn, with the caller holding the last call's gradients or not."""
    twins = twin_models(OPTIMIZERS["momentum"])
    (eager_model, _, _), (model, _, _) = twins
    steps = []
    for each, optimizer, _ in twins:
        def step(x, y, model=each, optimizer=optimizer):
            if set_to_none is not None:
                optimizer.zero_grad(set_to_none=set_to_none)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        steps.append(step)
    eager_step, compiled = steps[0], chainrule.compile(steps[1])
    eager_held = held = None
    for n, (x, y) in enumerate(batches(12)):
        if n % 2:
            x, y = x[:5], y[:5]
        assert compiled(x, y).item() == eager_step(x, y).item()
        if holding:
            eager_held = [p.grad for p in eager_model.parameters()]
            held = [p.grad for p in model.parameters()]
    assert compiled.recordings == 2
    assert_same_state(eager_model, model)
    for eager_grad, grad in zip(eager_held or (), held or ()):
        numpy.testing.assert_array_equal(grad.data, eager_grad.data)


def test_a_value_computed_twice_is_computed_once_unless_either_is_changed():
    """The replay computes once what the step computes twice from the same arrays (cross_entropy
    checks its labels, then its fused op checks them again), but not a result written in place
    afterwards: eager mode had two arrays there, and one of them changed."""
    def step(x):
        twice = (x * 2).sum() + (x * 2).sum()
        kept, changed = x * 3, x * 3
        changed.add_(1)
        first = (x * 4).sum()  # the last read of x·4 by name
        viewed = (x * 4)[:2]  # a view of the repeat: it reads the first's buffer from now on
        after = (first * 0 + x * 5).sum()  # a new result of that shape, meanwhile
        return twice, kept.sum(), changed.sum(), viewed.sum() + after
    compiled = chainrule.compile(step)
    rng = numpy.random.default_rng(3)
    for _ in range(4):
        x = chainrule.tensor(rng.standard_normal((4, 3)).astype(numpy.float32))
        expected = [value.item() for value in step(x)]
        assert [value.item() for value in compiled(x)] == expected
    products = [line for line in str(compiled.program).splitlines() if "multiply(v1:input" in line]
    # x·2 once (not twice), x·3 twice (one of them changed), x·4 once (its twin only read), x·5
    assert len(products) == 5


def test_results_that_outlive_the_call_are_never_merged():
    """Two heads' bias gradients are the same sum of the same signal: eager leaves two arrays in
    the two .grad, and so must a replay (scaling one must not scale the other)."""
    def make():
        chainrule.manual_seed(0)
        a, b = nn.Linear(6, 3), nn.Linear(6, 3)
        optimizer = optim.SGD([*a.parameters(), *b.parameters()], lr=0.1)

        def step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(a(x) + b(x), y)
            loss.backward()
            optimizer.step()
            return loss, x * 2, x * 2
        return a, b, step
    (a, b, step), (ea, eb, eager_step) = make(), make()
    compiled = chainrule.compile(step)
    for x, y in batches(4):
        results, expected = compiled(x, y), eager_step(x, y)
        assert [r.tolist() for r in results] == [e.tolist() for e in expected]
    assert not numpy.shares_memory(a.bias.grad.data, b.bias.grad.data)
    assert results[1] is not results[2] and not numpy.shares_memory(results[1].data,
                                                                     results[2].data)
    a.bias.grad.mul_(0.5)
    ea.bias.grad.mul_(0.5)
    numpy.testing.assert_array_equal(b.bias.grad.data, eb.bias.grad.data)
    assert b.bias.grad._version == eb.bias.grad._version == 0


def test_operations_on_values_python_calls_equal_are_not_merged():
    """0.0 == -0.0 and 1 == True in Python, but x·−0.0 and m[True] are other operations."""
    def step(x):
        return x * 0.0, x * -0.0, chainrule.full((2,), 0.0), chainrule.full((2,), -0.0), \
            x[1], x[True]
    compiled = chainrule.compile(step)
    x = chainrule.tensor(numpy.array([[1.0, -1.0], [2.0, -2.0]], dtype=numpy.float32))
    for _ in range(3):
        results, expected = compiled(x), step(x)
        for result, value in zip(results, expected):
            assert result.shape == value.shape
            numpy.testing.assert_array_equal(numpy.signbit(result.data),
                                             numpy.signbit(value.data))


def test_a_write_to_a_parameter_is_seen_through_an_input_that_views_it():
    """An argument may share memory with a parameter: x·2 before and after the parameter is
    written in place are two values, not one."""
    chainrule.manual_seed(0)
    layer = nn.Linear(3, 3)

    def step(x):
        before = x * 2
        with chainrule.no_grad():
            layer.weight.mul_(0.5)
        return before, x * 2
    compiled = chainrule.compile(step)
    for _ in range(4):
        before, after = compiled(chainrule.as_tensor(layer.weight.data[0]))
        numpy.testing.assert_array_equal(after.data, before.data / 2)


def test_a_loss_checks_its_labels_once_in_a_replay():
    steps = twin_models(OPTIMIZERS["sgd"])
    losses, compiled = run_both(steps, batches(4))
    assert losses["compiled"] == losses["eager"]
    listing = str(compiled.program)
    assert listing.count("maximum.reduce(v") == 2  # the labels' check, and softmax's shift
    assert listing.count("check bool(") == 1


@pytest.mark.parametrize("zero_grad_last", [False, True], ids=["zero_grad first",
                                                            "zero_grad last (lm.train's)"])
def test_the_gpt_with_adamw_clipping_a_schedule_and_dropout_replays_exactly(zero_grad_last):
    from chainrule.models.gpt import GPT, GPTConfig

    def make():
        chainrule.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16,
                              dropout=0.1))
        optimizer = optim.AdamW(model.optimizer_groups(0.1), lr=1e-2)
        schedule = optim.lr_scheduler.WarmupCosineLR(optimizer, warmup_steps=2, decay_steps=6)

        def step(tokens, targets):
            _, loss = model(tokens, targets)
            if not zero_grad_last:
                optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            if zero_grad_last:  # the gradients' buffers then take the update (buffer_plan.py)
                optimizer.zero_grad()
            schedule.step()
            return loss
        return model, step
    rng = numpy.random.default_rng(0)
    data = [(chainrule.tensor(rng.integers(0, 11, (3, 8))),
             chainrule.tensor(rng.integers(0, 11, (3, 8)))) for _ in range(6)]
    (eager_model, eager_step), (compiled_model, step) = make(), make()
    compiled = chainrule.compile(step)
    losses = []
    for run in (eager_step, compiled):
        chainrule.manual_seed(5)
        losses.append([run(tokens, targets).item() for tokens, targets in data])
    assert losses[1] == losses[0]
    assert compiled.recordings == 1
    assert_same_state(eager_model, compiled_model)


def test_clipping_the_gradient_norm_replays_exactly_whether_or_not_it_clips():
    def body(model, optimizer, x):
        optimizer.zero_grad()
        loss = (model(x) ** 2).sum()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss
    steps = linear_twins(body, outputs=1)
    rng = numpy.random.default_rng(0)
    scales = [0.01, 0.01, 10.0, 0.01, 10.0, 10.0, 0.01]  # norms below and above max_norm
    data = [chainrule.tensor((rng.standard_normal((4, 3)) * s).astype(numpy.float32))
            for s in scales]
    compiled = chainrule.compile(steps[1][1])
    assert [compiled(x).item() for x in data] == [steps[0][1](x).item() for x in data]
    assert compiled.recordings == 1
    assert_same_state(steps[0][0], steps[1][0])


def test_an_optimizer_of_ones_own_is_recorded_by_its_step_too():
    class HalvingSGD(optim.SGD):
        """SGD whose rate halves at every step: Python state the replay must read live."""

        def step(self, closure=None):
            super().step(closure)
            for group in self.param_groups:
                group["lr"] /= 2

    steps = twin_models(lambda params: HalvingSGD(params, lr=0.4))
    losses, compiled = run_both(steps, batches(7))
    assert losses["compiled"] == losses["eager"]
    assert_same_state(steps[0][0], steps[1][0])
    assert "HalvingSGD.step()  (run live" in str(compiled.program)


def test_a_bad_label_in_a_replay_raises_eagers_error_and_leaves_the_generator_as_eager_does():
    steps = twin_models(OPTIMIZERS["sgd"], dropout=0.5)
    (eager_model, _, eager_step), (compiled_model, _, step) = steps
    compiled = chainrule.compile(step)
    good = batches(6)
    bad = (good[0][0], chainrule.tensor([0, 1, 2, 99, 0, 1, 2, 0]))
    traces = []
    for run in (eager_step, compiled):
        chainrule.manual_seed(11)
        trace = [run(x, y).item() for x, y in good[:4]]
        with pytest.raises(IndexError, match="label 99 is out of range"):
            run(*bad)  # the replay's label check goes the other way: this call runs eagerly
        trace += [run(x, y).item() for x, y in good[4:]]
        traces.append(trace)
    assert traces[1] == traces[0]
    assert compiled.recordings == 1
    assert_same_state(eager_model, compiled_model)


def test_a_gather_by_a_repeated_index_replays_its_scatter_add_exactly():
    # indexing's VJP adds into a fresh zero array with numpy.add.at: a write in place that the
    # replay must redo from zeros on every call
    index = chainrule.tensor([0, 2, 2, 1])
    twins = sgd_twins((3, 4), lambda x, w: (w[index] * x).sum())
    assert_replays_exactly(twins, [chainrule.randn(4, 4) for _ in range(6)])


def test_results_laid_out_like_a_transposed_operand_are_reduced_in_eagers_order():
    # x.mT + w is laid out as x is (NumPy keeps the operand's order), and a sum over it adds in
    # memory order: the replay's buffer must have that layout, or the float32 sums differ
    twins = sgd_twins((4, 48, 1), lambda x, w: (x.mT + w).sum(dim=(0, 2)).pow(2).mean(), lr=0.01)
    rng = numpy.random.default_rng(1)
    assert_replays_exactly(twins, [
        chainrule.tensor(rng.standard_normal((4, 300, 48)).astype(numpy.float32) * 100)
        for _ in range(6)])


def test_the_written_settings_check_agrees_with_the_settings_it_was_written_from():
    from chainrule.codegen import same_settings
    from chainrule.recording import optimizer_settings

    model = nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(chainrule.ones(4, 3)).sum().backward()
    optimizer.step()  # makes a momentum buffer for each parameter
    same = same_settings(optimizer, optimizer_settings(optimizer))
    assert same()
    changes = [lambda: optimizer.param_groups[0].update(lr=0.2),
               lambda: optimizer.param_groups[0].pop("nesterov"),
               lambda: optimizer.state[model.weight].update(
                   momentum_buffer=numpy.zeros((2, 3), numpy.float32)),
               lambda: optimizer.state.pop(model.bias),
               lambda: optimizer.add_param_group({"params": [nn.Parameter(chainrule.ones(1))]})]
    for change in changes:
        saved = optimizer_settings(optimizer)
        change()
        assert optimizer_settings(optimizer) != saved
        assert not same_settings(optimizer, saved)()
        assert same_settings(optimizer, optimizer_settings(optimizer))()


def test_operations_on_constants_alone_run_once_when_the_program_is_built():
    # causal attention builds its mask from the sequence length on every eager call; the
    # replay computes it once, and still replays the eager run exactly
    twins = sgd_twins((8, 24), lambda x, w: chainrule.ops.causal_self_attention(
        x @ w, n_head=2).pow(2).mean())
    assert_replays_exactly(twins, [chainrule.randn(2, 5, 8) for _ in range(4)])
    program = twins[2].program
    assert any(i.function is numpy.triu for i in flat(program.instructions))
    assert not any(getattr(call, "func", None) is numpy.triu for call, _ in program.steps)


def test_a_setting_replaced_by_an_equal_value_still_replays_and_a_parameter_added_does_not():
    # the written entry test compares the group's values by identity first, then by value; and
    # the replayed zero_grad and update hold for the parameters the groups held when recorded
    steps = twin_models(lambda params: optim.SGD(list(params)[:2], lr=0.05, momentum=0.9))
    (eager_model, eager_optimizer, eager_step), (compiled_model, optimizer, step) = steps
    compiled = chainrule.compile(step)
    for n, (x, y) in enumerate(batches(9)):
        if n == 4:  # an equal float, a new object
            for each in (eager_optimizer, optimizer):
                each.param_groups[0]["lr"] = float(repr(each.param_groups[0]["lr"]))
            assert optimizer.param_groups[0]["lr"] is not eager_optimizer.param_groups[0]["lr"]
        if n == 6:  # the last layer's parameters put into the group's own list, in place
            for each, model in ((eager_optimizer, eager_model), (optimizer, compiled_model)):
                each.param_groups[0]["params"].extend(list(model.parameters())[2:])
            before = compiled_model[2].weight.data.copy()
        assert compiled(x, y).item() == eager_step(x, y).item()
        if n == 5:
            assert compiled.recordings == 1  # the equal learning rate replayed the program
    assert_same_state(eager_model, compiled_model)
    assert not numpy.array_equal(compiled_model[2].weight.data, before)  # trained since


def test_a_buffer_made_empty_in_the_step_is_shared_once_dead_like_any_result():
    def loss_of(x, w):
        with chainrule.no_grad():  # each sigmoid makes its output by empty_like
            h = x.sigmoid().sigmoid().sigmoid()
        return (h @ w).pow(2).mean()
    twins = sgd_twins((6, 6), loss_of)
    assert_replays_exactly(twins, [chainrule.randn(4, 6) for _ in range(4)])
    program = twins[2].program
    made = [i.result for i in flat(program.instructions)
            if i.kind == "create" and i.function is numpy.empty_like]
    assert len(made) == 3
    assert program.values[made[2]] is program.values[made[0]]  # the first is dead by then


def test_an_argument_written_in_place_counts_its_versions_as_eager_does():
    # a graph that saved the argument before the step refuses to run backward after it, as in
    # eager mode, instead of reading the values the step wrote
    versions = {}
    for run in ("eager", "compiled"):
        w = chainrule.randn(3, requires_grad=True)

        def step(x, w=w):
            loss = (x * w).sum()
            loss.backward()
            with chainrule.no_grad():
                x.mul_(2)
                x[0] += 1  # two writes through a view, as PyTorch counts: += and the store
            return loss
        stepped = chainrule.compile(step) if run == "compiled" else step
        versions[run] = []
        for _ in range(4):  # eager, recorded, replayed, replayed
            x, a = chainrule.randn(3), chainrule.randn(3, requires_grad=True)
            saved = (a * x).sum()
            stepped(x)
            versions[run].append(x._version)
            with pytest.raises(RuntimeError, match="modified by an in-place operation"):
                saved.backward()
    assert versions["compiled"] == versions["eager"] == [3, 3, 3, 3]


def test_module_attributes_renamed_with_their_values_in_order_record_again():
    class Flags(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(6, 3)
            self.double_input, self.negate_output = True, False

        def forward(self, x):
            out = self.linear(x * 2 if self.double_input else x)
            return -out if self.negate_output else out
    twins = twin_models(lambda params: optim.SGD(params, lr=0.1), make_model=Flags)
    (eager_model, _, eager_step), (compiled_model, _, step) = twins
    compiled = chainrule.compile(step)
    for n, (x, y) in enumerate(batches(6)):
        if n == 3:  # the flags swap names: the same values, True then False, in the same order
            for model in (eager_model, compiled_model):
                del model.double_input, model.negate_output
                model.negate_output, model.double_input = True, False
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.recordings == 2
    assert_same_state(eager_model, compiled_model)


@pytest.mark.parametrize("change", ["list replaced", "group added"])
def test_parameters_given_to_an_optimiser_by_a_new_list_record_again(change):
    steps = twin_models(lambda params: optim.SGD(list(params)[:2], lr=0.05, momentum=0.9))
    (eager_model, eager_optimizer, eager_step), (compiled_model, optimizer, step) = steps
    compiled = chainrule.compile(step)
    for n, (x, y) in enumerate(batches(7)):
        if n == 4:
            for each, model in ((eager_optimizer, eager_model), (optimizer, compiled_model)):
                last = list(model.parameters())[2:]
                if change == "list replaced":
                    each.param_groups[0]["params"] = each.param_groups[0]["params"] + last
                else:
                    each.param_groups = each.param_groups + [dict(each.param_groups[0],
                                                                  params=last)]
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert compiled.recordings == 2
    assert_same_state(eager_model, compiled_model)


def test_writes_to_arguments_are_counted_where_eager_counts_them_even_when_the_step_fails():
    versions = {}
    for run in ("eager", "compiled"):
        w = chainrule.randn(6, 3, requires_grad=True)

        def step(x, raw, fail, w=w):
            with chainrule.no_grad():
                x.mul_(2)
                chainrule.as_tensor(raw).add_(1)  # an array argument: its storage's count
            if fail:
                raise ValueError("after the writes")
            return (x @ w).sum()
        stepped = chainrule.compile(step) if run == "compiled" else step
        versions[run] = []
        for fail in (False, False, False, True, False):
            x, raw = chainrule.ones(4, 6), chainrule.ones(4, 6)
            try:
                stepped(x, raw.data, fail)
            except ValueError:
                pass
            versions[run].append((x._version, raw._version, float(raw.data[0, 0])))
    assert versions["compiled"] == versions["eager"] == [(1, 1, 2.0)] * 5
    listed = str(stepped.program)
    assert "count a write to v1:input" in listed and "count a write to v2:input" in listed


def test_a_numpy_float_argument_and_a_setting_of_another_type_are_told_apart():
    # numpy.float64(-0.0) == 0.0, numpy.float64(0.1) == 0.1: a program of its own, a live update
    scaled = chainrule.compile(lambda x, s: x * s)
    x = chainrule.ones(3)
    for s in (numpy.float64(0.0), numpy.float64(0.0), numpy.float64(0.0), numpy.float64(-0.0)):
        assert numpy.array_equal(numpy.signbit(scaled(x, s).data), numpy.signbit(x.data * s))

    class Plain(optim.Optimizer):  # uses its learning rate as it stands, as a user's may
        def __init__(self, params, lr):
            super().__init__(params, dict(lr=lr))

        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.data -= group["lr"] * p.grad.data
                        chainrule.autograd.increment_version(p)
    steps = twin_models(lambda params: Plain(params, lr=0.1))
    (eager_model, eager_optimizer, eager_step), (compiled_model, optimizer, step) = steps
    compiled = chainrule.compile(step)
    for n, (x, y) in enumerate(batches(6)):
        if n == 3:  # equal, but a float64 product of a float32 gradient in eager mode
            for each in (eager_optimizer, optimizer):
                each.param_groups[0]["lr"] = numpy.float64(0.1)
        assert compiled(x, y).item() == eager_step(x, y).item()
    assert_same_state(eager_model, compiled_model)


def test_arguments_sharing_one_storage_count_every_write_to_it():
    def step(a, b):
        with chainrule.no_grad():
            a.add_(1)
            b.mul_(2)
        return a.sum()
    counts = {}
    for run, stepped in (("eager", step), ("compiled", chainrule.compile(step))):
        counts[run] = []
        for _ in range(4):  # eager, recorded, replayed, replayed
            x = chainrule.ones(3)
            stepped(x, x[:])
            counts[run].append((x._version, x.data.tolist()))
    assert counts["compiled"] == counts["eager"] == [(2, [4.0, 4.0, 4.0])] * 4


def test_a_branch_that_turns_after_a_write_to_an_argument_is_counted_once_and_named():
    def step(x):
        chainrule.autograd.increment_version(x)  # a write counted, as an op's own would be
        return x.sum() if x.sum() > 0 else -x.sum()
    compiled = chainrule.compile(step)
    for _ in range(3):
        compiled(chainrule.ones(3))
    x = -chainrule.ones(3)
    with pytest.raises(CompileError, match="went\\s+the other way"):
        compiled(x)
    assert x._version == 1  # counted where the write was, once: no eager rerun counted it again


def test_an_item_replaced_in_a_module_list_or_dict_records_again():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
            self.heads = nn.ModuleDict({"a": nn.Linear(4, 2)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.heads["a"](x)
    chainrule.manual_seed(0)
    net = Net()
    step = chainrule.compile(lambda x: net(x))
    x = chainrule.ones(3, 4)
    for _ in range(3):
        step(x)
    for replace in (lambda: net.layers.__setitem__(1, nn.Linear(4, 4)),
                    lambda: net.heads.__setitem__("a", nn.Linear(4, 2))):
        replace()
        numpy.testing.assert_array_equal(step(x).data, net(x).data)
    assert step.recordings == 3


def test_an_optimiser_made_inside_the_step_is_refused_by_name():
    model = nn.Linear(4, 2)

    def step(x):
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    compiled = chainrule.compile(step)
    compiled(chainrule.ones(3, 4))
    with pytest.raises(CompileError, match="makes its SGD itself"):
        compiled(chainrule.ones(3, 4))


def test_an_argument_given_a_new_array_in_the_step_is_refused_by_name():
    def step(x):
        x.data = x.data * 2
        return x.sum()
    compiled = chainrule.compile(step)
    compiled(chainrule.ones(2))
    with pytest.raises(CompileError, match="gives an argument of shape \\(2,\\) a new array"):
        compiled(chainrule.ones(2))

    def written_in_place(x):  # the same memory handed back: as eager mode, in place
        x.data -= 1
        return x.sum()
    compiled = chainrule.compile(written_in_place)
    for _ in range(4):
        x = chainrule.ones(2)
        assert compiled(x).item() == 0.0 and x.data.tolist() == [0.0, 0.0]


def test_nans_of_another_sign_or_payload_are_other_arguments():
    import struct

    negative_nan = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]
    scaled = chainrule.compile(lambda x, s: x * s)
    x = chainrule.ones(1, dtype=chainrule.float64)
    for s in (float("nan"),) * 3 + (negative_nan,) * 3:
        assert scaled(x, s).data.view(numpy.uint64)[0] == (x.data * s).view(numpy.uint64)[0]
    assert scaled.recordings == 2


def test_a_tensor_made_in_the_step_from_an_argument_may_take_a_new_array():
    def step(x):
        y = x.detach()
        y.data = y.data * 2  # y's own array: the caller's x is not changed, in either run
        return y.sum()
    compiled = chainrule.compile(step)
    for n in range(1, 5):
        x = chainrule.ones(3) * n
        assert compiled(x).item() == step(chainrule.ones(3) * n).item() == 6 * n
        assert x.data.tolist() == [n] * 3


def test_module_lists_and_dicts_at_any_depth_are_guarded():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.nested = nn.ModuleDict({"a": nn.ModuleList([nn.Linear(3, 3)])})
            self.ema = nn.Linear(3, 3)  # a module the step never calls: not guarded
            self.ema.updates = 0

        def forward(self, x):
            self.nested["a"][0].mask = (x > 0).float()  # set on a child, then called
            for layer in self.nested["a"]:
                x = layer(x) * layer.mask
            return x
    nets = []
    for _ in range(2):  # one run eagerly, one compiled
        chainrule.manual_seed(0)
        nets.append(Net())
    step = chainrule.compile(lambda x: nets[1](x))
    x = chainrule.randn(2, 3)
    for replace in (False, True):
        if replace:
            for net in nets:
                chainrule.manual_seed(1)
                net.nested["a"][0] = nn.Linear(3, 3)
        for _ in range(3):
            for net in nets:
                net.ema.updates += 1  # changed between calls, never read by the step
            numpy.testing.assert_array_equal(step(x).data, nets[0](x).data)
    assert step.recordings == 2


notebook_model = notebook_optimizer = None  # a notebook's globals: its cells bind them anew


def notebook_step(x, y):
    notebook_optimizer.zero_grad()
    loss = F.cross_entropy(notebook_model(x), y)
    loss.backward()
    notebook_optimizer.step()
    return loss


@pytest.mark.parametrize("wrap", [lambda step: step, functools.partial])  # partial: its func
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_global_the_step_reads_bound_to_a_new_model_records_again(dtype, wrap):
    # the cell that makes the model and its optimiser run again, the step's cell not: eager
    # mode trains the new model from then on, and so must the compiled step
    global notebook_model, notebook_optimizer
    data = [(x.to(dtype), y) for x, y in batches(6)]
    trained = []
    for step in (notebook_step, chainrule.compile(wrap(notebook_step))):
        for _ in range(2):  # the cell run twice
            chainrule.manual_seed(0)
            notebook_model = nn.Sequential(nn.Linear(6, 16, dtype=dtype), nn.ReLU(),
                                           nn.Linear(16, 3, dtype=dtype))
            notebook_optimizer = optim.SGD(notebook_model.parameters(), lr=0.1, momentum=0.9)
            losses = [step(x, y).item() for x, y in data]
        trained.append((notebook_model, losses))
    (eager_model, eager_losses), (compiled_model, compiled_losses) = trained
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)


@pytest.mark.parametrize("number", [float, numpy.float32])  # each value a new object
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_variable_of_an_enclosing_function_given_a_new_value_records_again(dtype, number):
    def make():
        chainrule.manual_seed(0)
        model = nn.Linear(6, 3, dtype=dtype)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        scale = 1.0

        def step(x, y):
            optimizer.zero_grad()
            (F.cross_entropy(model(x), y) * scale).backward()
            optimizer.step()
            return model.weight * 1

        def set_scale(value):
            nonlocal scale
            scale = value
        return model, step, set_scale
    (eager_model, eager_step, eager_scale), (compiled_model, step, scale) = make(), make()
    step = chainrule.compile(step)
    for n, (x, y) in enumerate(batches(8)):
        for set_scale in (eager_scale, scale):
            set_scale(number(0.5 ** (n // 3)))  # a new loss scale every third call
        numpy.testing.assert_array_equal(step(x.to(dtype), y).data,
                                         eager_step(x.to(dtype), y).data)
    numpy.testing.assert_array_equal(compiled_model.weight.data, eager_model.weight.data)
    assert step.recordings == 3


def logged(function):
    """A decorator of the user's, as ``functools.wraps`` writes them."""
    @functools.wraps(function)
    def wrapper(*args):
        return function(*args)
    return wrapper


class Trainer:
    """A training loop's object whose method is the step: ``restart`` gives it a new model and
    optimiser, which the compiled method must train from then on, as the method does."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.restart()

    def restart(self):
        chainrule.manual_seed(0)
        self.model = nn.Linear(6, 3, dtype=self.dtype)
        self.optimizer = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss


class DecoratedTrainer(Trainer):
    step = logged(Trainer.step)


class CallableTrainer(Trainer):
    __call__ = Trainer.step  # the object itself compiled: its __call__ reads self.<name>


class DecayingTrainer(Trainer):
    """Its step reads self inside a generator expression too, which makes self a cell that the
    method's own code reads with LOAD_DEREF (Python 3.11), not LOAD_FAST."""

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(x), y)
        loss = loss + sum((p * p).sum() * self.decay for p in self.model.parameters())
        loss.backward()
        self.optimizer.step()
        return loss

    decay = 0.01


class HelperTrainer(Trainer):
    """Its step reads the model and optimiser through a method of its own and a property."""

    @property
    def updates(self):
        return self.optimizer

    def loss(self, x, y):
        return F.cross_entropy(self.model(x), y)

    def step(self, x, y):
        self.updates.zero_grad()
        loss = self.loss(x, y)
        loss.backward()
        self.updates.step()
        return loss


class InheritingTrainer(HelperTrainer):
    """Its step is its base class's, through ``super()``: what that reads is read too."""

    def step(self, x, y):
        return super().step(x, y)

    def loss(self, x, y):
        return super(InheritingTrainer, self).loss(x, y)


@pytest.mark.parametrize("kind", [Trainer, CallableTrainer, DecayingTrainer, DecoratedTrainer,
                                  HelperTrainer, InheritingTrainer])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_an_attribute_of_self_a_compiled_method_reads_given_a_new_model_records_again(
        dtype, kind):
    callable_object = kind is CallableTrainer
    data = [(x.to(dtype), y) for x, y in batches(6)]
    trained = []
    for compile in (False, True):
        trainer = kind(dtype)
        step = trainer if callable_object else trainer.step
        step = chainrule.compile(step) if compile else step
        losses = [step(x, y).item() for x, y in data]
        trainer.restart()
        losses += [step(x, y).item() for x, y in data]
        trained.append((trainer.model, losses))
    (eager_model, eager_losses), (compiled_model, compiled_losses) = trained
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)


LOSS_SCALE = 1.0  # read by StaticTrainer.scaled


class StaticTrainer(Trainer):
    """Its step scales the loss by a static method reading a global of its module."""

    @staticmethod
    def scaled(loss):
        return loss * LOSS_SCALE

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = self.scaled(F.cross_entropy(self.model(x), y))
        loss.backward()
        self.optimizer.step()
        return loss


class ClassTrainer(StaticTrainer):
    """Its step scales the loss by a class method reading a value of its class."""
    scale = 1.0

    @classmethod
    def scaled(cls, loss):
        return loss * cls.scale


@pytest.mark.parametrize("kind", [StaticTrainer, ClassTrainer])
def test_what_a_static_or_class_method_of_the_step_reads_given_a_new_value_records_again(
        kind, monkeypatch):
    data = batches(6)
    trained = []
    for compile in (False, True):
        monkeypatch.setattr(kind, "scale", 1.0, raising=False)
        monkeypatch.setitem(globals(), "LOSS_SCALE", 1.0)
        trainer = kind(numpy.float32)
        step = chainrule.compile(trainer.step) if compile else trainer.step
        losses = [step(x, y).item() for x, y in data[:3]]
        monkeypatch.setattr(kind, "scale", 0.25, raising=False)
        monkeypatch.setitem(globals(), "LOSS_SCALE", 0.25)
        losses += [step(x, y).item() for x, y in data[3:]]
        trained.append((trainer.model, losses))
    (eager_model, eager_losses), (compiled_model, compiled_losses) = trained
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)


class SlottedTrainer:
    """Trainer's step on an object without a ``__dict__``: its attributes are slots."""
    __slots__ = ("dtype", "model", "optimizer")
    __init__, restart, step = Trainer.__init__, Trainer.restart, Trainer.step


class ScaledTrainer(Trainer):
    """Its step reads ``self.scale``: the class's value, until the object is given its own."""
    scale = 1.0

    def step(self, x, y):
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(x), y) * self.scale
        loss.backward()
        self.optimizer.step()
        return loss


def scale_down(trainer):
    trainer.scale = 0.25  # the object's own value, which hides the class's


@pytest.mark.parametrize("kind, change", [(SlottedTrainer, SlottedTrainer.restart),
                                          (ScaledTrainer, scale_down)])
def test_a_slot_or_a_class_value_a_compiled_method_reads_given_a_new_value_records_again(
        kind, change):
    data = [(x.to(numpy.float64), y) for x, y in batches(4)]
    trained = []
    for compile in (False, True):
        trainer = kind(numpy.float64)
        step = chainrule.compile(trainer.step) if compile else trainer.step
        losses = [step(x, y).item() for x, y in data]
        change(trainer)
        losses += [step(x, y).item() for x, y in data]
        trained.append((trainer.model, losses))
    (eager_model, eager_losses), (compiled_model, compiled_losses) = trained
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)


def notebook_step_with_a_helper(x, y):  # the helper reads the model and optimiser by name
    return notebook_step(x, y)


@pytest.mark.parametrize("step", [logged(notebook_step), notebook_step_with_a_helper],
                         ids=["decorated", "helper"])
def test_a_global_a_wrapped_step_or_its_helper_reads_bound_anew_records_again(step):
    # the step a decorator wraps, and a function of the same module the step calls, read the
    # model by its global name: the cell that makes it run again, eager mode trains the new one
    global notebook_model, notebook_optimizer
    data = batches(4)
    trained = []
    for run in (step, chainrule.compile(step)):
        for _ in range(2):
            chainrule.manual_seed(0)
            notebook_model = nn.Linear(6, 3)
            notebook_optimizer = optim.SGD(notebook_model.parameters(), lr=0.1)
            losses = [run(x, y).item() for x, y in data]
        trained.append((notebook_model, losses))
    (eager_model, eager_losses), (compiled_model, compiled_losses) = trained
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)


def test_a_global_the_step_rebinds_is_named_in_the_error_and_put_back():
    """A replay runs none of the step's Python: the counter would stop at the recording call.
    The recording refuses it by name, the global put back as it was before that call."""
    (_, _, plain_step), _ = twin_models(OPTIMIZERS["sgd"])
    namespace = {"plain_step": plain_step, "calls": 0}
    exec("def step(x, y):\n    global calls\n    calls += 1\n    return plain_step(x, y)",
         namespace)
    step = chainrule.compile(namespace["step"])
    x, y = batches(1)[0]
    step(x, y)  # eager
    with pytest.raises(CompileError, match="step assigns the global 'calls', which a replay"):
        step(x, y)
    assert namespace["calls"] == 1

    # a global named as a module's mode is a global like any other
    exec("training = True\ndef flipping(x, y):\n    global training\n"
         "    training = not training\n    return plain_step(x, y)", namespace)
    flipping = chainrule.compile(namespace["flipping"])
    flipping(x, y)
    with pytest.raises(CompileError, match="assigns the global 'training'"):
        flipping(x, y)

    # a warning the step gives for the first time when it records writes Python's own
    # __warningregistry__ into its module's globals: no assignment of the step's
    exec("import warnings\ndef warning_step(x, y):\n    warnings.warn('once')\n"
         "    return plain_step(x, y)", namespace)
    warning_step = chainrule.compile(namespace["warning_step"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warning_step(x, y)
        namespace.pop("__warningregistry__", None)  # as if the first warning came now
        for _ in range(3):
            warning_step(x, y)
    assert warning_step.recordings == 1 and "__warningregistry__" in namespace


def test_a_variable_of_an_enclosing_function_the_step_gives_its_first_value_is_left_unset():
    """Put back as it was before the recording call: without a value, not holding the
    recording's own marker of a missing one."""
    (_, _, plain_step), _ = twin_models(OPTIMIZERS["sgd"])
    keep = False

    def enclosing():
        def step(x, y):
            nonlocal kept
            loss = plain_step(x, y)
            if keep:
                kept = loss.detach()
            return loss
        return step, lambda: kept
        kept = None  # (never run: the variable has no value until the step gives it one)
    step, read_kept = enclosing()
    step = chainrule.compile(step)
    x, y = batches(1)[0]
    for _ in range(3):  # eager, then recorded, then replayed: none assigns
        step(x, y)
    keep = True  # the guard on `keep` records again, and this recording assigns
    with pytest.raises(CompileError, match="step assigns the variable 'kept'"):
        step(x, y)
    with pytest.raises(NameError):
        read_kept()


def run_by_a_training_step(trainer, count=5):
    """``trainer.step`` on ``count`` batches through fit's TrainingStep (compiled unless it can't
    be): the step, the notes it gave, the losses."""
    from chainrule.training_step import TrainingStep
    notes = []
    step = TrainingStep(trainer.step, trainer.model, trainer.optimizer, note=notes.append)
    return step, notes, [step(x, y) for x, y in batches(count)]


class CountingTrainer(Trainer):
    """Its step keeps Python state of its own: what a replay would not keep up to date."""

    def step(self, x, y):
        loss = super().step(x, y)
        self.calls = getattr(self, "calls", 0) + 1
        self.last_loss = loss.detach()
        return loss


def test_attributes_a_method_assigns_are_named_in_the_error_and_a_training_step_runs_eagerly():
    trainer = CountingTrainer(numpy.float64)
    step = chainrule.compile(trainer.step)
    x, y = batches(1)[0]
    step(x, y)
    with pytest.raises(CompileError, match=r"CountingTrainer's attribute '(calls|last_loss)'"):
        step(x, y)
    assert trainer.calls == 1  # the recording call's writes put back

    trainer = CountingTrainer(numpy.float64)
    step, notes, losses = run_by_a_training_step(trainer)
    assert trainer.calls == 5 and trainer.last_loss is not losses[0]  # every call, once
    assert not step.is_compiled and "assigns" in notes[0]


class TrainerCountingInAClassMethod(Trainer):
    """Its step keeps a count in its class, through a class method it calls."""
    steps = 0

    @classmethod
    def count(cls):
        cls.steps += 1

    def step(self, x, y):
        loss = super().step(x, y)
        self.count()
        return loss


class TrainerCountingInItsType(Trainer):
    """Its step keeps a count in its class, through ``type(self)``, given on the first call."""

    def step(self, x, y):
        loss = super().step(x, y)
        type(self).steps = getattr(type(self), "steps", 0) + 1
        return loss


@pytest.mark.parametrize("kind", [TrainerCountingInAClassMethod, TrainerCountingInItsType])
def test_attributes_of_its_class_a_step_assigns_are_named_and_a_training_step_runs_eagerly(
        kind):
    # a replay ran none of it: the count stopped at the recording call, silently
    class Counting(kind):  # a class of this test's own, so that its count starts at none
        pass

    trainer = Counting(numpy.float64)
    step = chainrule.compile(trainer.step)
    x, y = batches(1)[0]
    step(x, y)  # eager
    assert vars(Counting)["steps"] == 1
    del Counting.steps  # so that the recording call gives the class its own count again
    with pytest.raises(CompileError, match="step assigns the class Counting's attribute 'steps'"):
        step(x, y)
    assert "steps" not in vars(Counting)  # the recording call's write put back

    step, notes, _ = run_by_a_training_step(Counting(numpy.float64))
    assert Counting.steps == 5 and not step.is_compiled and "assigns" in notes[0]


class Tally:
    """A count a step keeps in a class it names by a global: ``Tally.steps += 1``."""
    steps = 0


class TrainerCountingInAClassItNames(Trainer):
    def step(self, x, y):
        loss = super().step(x, y)
        Tally.steps += 1
        return loss


def test_attributes_a_step_assigns_on_what_a_global_or_enclosing_variable_names_are_refused():
    # a replay ran none of it: the count stopped at the recording call, silently
    (_, _, plain_step), _ = twin_models(OPTIMIZERS["sgd"])
    config = types.ModuleType("config")
    config.steps = 0
    namespace = {"plain_step": plain_step, "config": config,
                 "stats": types.SimpleNamespace(calls=0)}
    exec("class Counting:\n    pass\n"
         "def by_class(x, y):\n    Counting.calls = getattr(Counting, 'calls', 0) + 1\n"
         "    return plain_step(x, y)\n"
         "def by_module(x, y):\n    config.steps += 1\n    return plain_step(x, y)\n"
         "def by_object(x, y):\n    stats.calls += 1\n    return plain_step(x, y)\n"
         "def enclosing(counter):\n    def by_enclosed(x, y):\n        counter.calls += 1\n"
         "        return plain_step(x, y)\n    return by_enclosed\n", namespace)
    namespace["by_enclosed"] = namespace["enclosing"](types.SimpleNamespace(calls=0))
    x, y = batches(1)[0]
    for name, error in [("by_class", "the class Counting's attribute 'calls'"),
                        ("by_module", "the attribute 'steps' of the global 'config'"),
                        ("by_object", "the attribute 'calls' of the global 'stats'"),
                        ("by_enclosed", "the attribute 'calls' of the variable 'counter' of a "
                                        "function enclosing")]:
        step = chainrule.compile(namespace[name])
        step(x, y)  # eager
        with pytest.raises(CompileError, match=f"{name} assigns {error}, which a replay"):
            step(x, y)
    assert vars(namespace["Counting"])["calls"] == 1 and config.steps == 1  # put back
    assert namespace["stats"].calls == 1
    assert namespace["by_enclosed"].__closure__[0].cell_contents.calls == 1

    class Inheriting(namespace["Counting"]):  # given its own count by the recording call
        pass
    namespace["Counting"] = Inheriting
    step = chainrule.compile(namespace["by_class"])
    step(x, y)  # eager
    del Inheriting.calls
    with pytest.raises(CompileError, match="assigns the class Inheriting's attribute 'calls'"):
        step(x, y)
    assert "calls" not in vars(Inheriting)  # put back by deleting it: it inherits again

    # the step's own object named by a global too: its attributes are compared already
    exec("class Counting:\n    def step(self, x, y):\n        counting.calls += 1\n"
         "        return plain_step(x, y)\ncounting = Counting()\ncounting.calls = 0\n",
         namespace)
    step = chainrule.compile(namespace["counting"].step)
    step(x, y)
    with pytest.raises(CompileError, match="step assigns Counting's attribute 'calls', which"):
        step(x, y)

    Tally.steps = 0
    step, notes, _ = run_by_a_training_step(TrainerCountingInAClassItNames(numpy.float64))
    assert Tally.steps == 5 and not step.is_compiled and "Tally's attribute 'steps'" in notes[0]


class CountingTrainerThatReadsItsLoss(CountingTrainer):
    """Refused at recording for another reason too: ``.item()`` after the assignments."""

    def step(self, x, y):
        loss = super().step(x, y)
        self.last_value = loss.item()
        return loss


def test_assignments_are_put_back_when_the_recording_fails_for_another_reason():
    # the training step then runs the call eagerly from the state before it: the recording's
    # assignments left in place, that call counted twice
    trainer = CountingTrainerThatReadsItsLoss(numpy.float64)
    step, notes, _ = run_by_a_training_step(trainer)
    assert trainer.calls == 5 and not step.is_compiled and ".item()" in notes[0]


def dropout_and_batch_norm(dtype):
    chainrule.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16, dtype=dtype), nn.ReLU(), nn.Dropout(0.3),
                         nn.BatchNorm1d(16, dtype=dtype), nn.Linear(16, 3, dtype=dtype))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_step_that_switches_to_eval_mode_and_back_itself_replays_exactly(dtype):
    # an evaluation compiled on its own, between eager training steps: it puts the model in
    # eval mode and back, as a replay must too; it used to record on every call, because the
    # mode when the model was called (eval) is never the mode between calls (train)
    runs = []
    for compile in (False, True):
        model = dropout_and_batch_norm(dtype)
        optimizer = optim.Adam(model.parameters(), lr=0.01)

        def evaluate(x, y, model=model):
            model.eval()
            with chainrule.no_grad():
                loss = F.cross_entropy(model(x), y)
            model.train()
            return loss
        measure = chainrule.compile(evaluate) if compile else evaluate
        chainrule.manual_seed(1)
        losses = []
        for x, y in batches(8):
            optimizer.zero_grad()
            F.cross_entropy(model(x.to(dtype)), y).backward()  # dropout, batch statistics
            optimizer.step()
            losses.append(measure(x.to(dtype), y).item())
        runs.append((model, losses, measure))
    (eager_model, eager_losses, _), (compiled_model, compiled_losses, measure) = runs
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)
    for eager_buffer, compiled_buffer in zip(eager_model.buffers(), compiled_model.buffers()):
        numpy.testing.assert_array_equal(compiled_buffer.data, eager_buffer.data)
    assert measure.recordings == 1 and compiled_model.training and compiled_model[2].training


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_step_that_puts_the_model_in_training_mode_itself_replays_after_an_evaluation(dtype):
    # PyTorch's habit: model.train() first in the step, model.eval() in an evaluation between
    # epochs; the step replays after each evaluation, where it recorded again every epoch
    # (one program for each mode the model is in when the step starts: two, for any epochs)
    runs = []
    for compile in (False, True):
        model = dropout_and_batch_norm(dtype)
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def step(x, y, model=model, optimizer=optimizer):
            model.train()
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss
        train_step = chainrule.compile(step) if compile else step
        chainrule.manual_seed(1)
        losses = []
        for epoch in range(5):
            losses += [train_step(x.to(dtype), y).item() for x, y in batches(3, seed=epoch)]
            model.eval()
            with chainrule.no_grad():
                losses.append(F.cross_entropy(model(batches(1)[0][0].to(dtype)),
                                              batches(1)[0][1]).item())
        runs.append((model, losses, train_step))
    (eager_model, eager_losses, _), (compiled_model, compiled_losses, train_step) = runs
    assert compiled_losses == eager_losses
    assert_same_state(eager_model, compiled_model)
    assert train_step.recordings == 2


def test_a_step_given_a_new_python_value_on_every_call_keeps_no_memory_of_each_call():
    # the iteration's number as an argument: a new signature on every call, so every call runs
    # eagerly (as documented); it used to keep each call's signature, ~600 bytes a call
    import tracemalloc

    (eager_model, _, eager_step), (compiled_model, _, plain_step) = twin_models(
        OPTIMIZERS["momentum"])
    step = chainrule.compile(lambda x, y, iteration: plain_step(x, y))
    x, y = batches(1)[0]
    for iteration in range(200):
        assert step(x, y, iteration).item() == eager_step(x, y).item()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for iteration in range(200, 3200):
            step(x, y, iteration)
            eager_step(x, y)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 3000 * 100
    assert step.recordings == 0
    assert_same_state(eager_model, compiled_model)


@pytest.mark.parametrize("seeding", ["manual_seed", "set_rng_state"])
def test_a_step_that_seeds_the_random_generator_itself_is_refused_by_name(seeding):
    # a replay would not seed it again: its dropout masks would go on from the generator, where
    # eager mode draws the same masks on every call (set_rng_state was replayed that way,
    # silently; manual_seed was refused as "an array from outside chainrule's")
    (model, optimizer, _), _ = twin_models(OPTIMIZERS["sgd"], dropout=0.5)
    saved = chainrule.backend.get_rng_state()

    def step(x, y):
        if seeding == "manual_seed":
            chainrule.manual_seed(7)
        else:
            chainrule.backend.set_rng_state(saved)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    compiled = chainrule.compile(step)
    x, y = batches(1)[0]
    compiled(x, y)
    message = "seeds the random generator itself" if seeding == "manual_seed" else \
        "reads or sets the random generator's state"
    with pytest.raises(CompileError, match=message):
        compiled(x, y)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_a_module_list_the_step_indexes_by_name_records_again_when_an_item_is_replaced(dtype):
    # no module the step calls holds the list, so only the name leads to it: a block replaced
    # in it was replayed with the old block's weights, silently
    def make():
        chainrule.manual_seed(0)
        blocks = nn.ModuleList([nn.Linear(6, 6, dtype=dtype) for _ in range(2)])
        head = nn.Linear(6, 3, dtype=dtype)
        optimizer = optim.SGD([*blocks.parameters(), *head.parameters()], lr=0.1)

        def step(x, y):
            for block in blocks:
                x = block(x).relu()
            optimizer.zero_grad()
            loss = F.cross_entropy(head(x), y)
            loss.backward()
            optimizer.step()
            return loss
        return blocks, head, step
    (eager_blocks, eager_head, eager_step), (blocks, head, step) = make(), make()
    step = chainrule.compile(step)
    for n, (x, y) in enumerate(batches(9)):
        if n % 3 == 2:
            for twin in (eager_blocks, blocks):
                chainrule.manual_seed(n)
                twin[1] = nn.Linear(6, 6, dtype=dtype)
        assert step(x.to(dtype), y).item() == eager_step(x.to(dtype), y).item()
    for eager_module, module in ((eager_blocks, blocks), (eager_head, head)):
        assert_same_state(eager_module, module)


def numpy_2_2_pow(self, exponent):
    if isinstance(exponent, numpy.ndarray) and exponent.ndim == 0:
        float(exponent)  # what NumPy < 2.3 does before choosing square, sqrt or power
    return numpy.ndarray.__pow__(self, exponent)


def test_a_step_with_a_power_records_where_numpy_reads_the_exponent_into_python(monkeypatch):
    """Under the NumPy versions pyproject.toml allows (numpy>=1.26): Python 3.10 installs NumPy
    2.2, whose ndarray.__pow__ reads a 0-d exponent into Python with float() (a fast path for
    x ** 2 that NumPy 2.3 dropped). Emulated here on the NumPy the suite runs with."""
    monkeypatch.setattr(traced.Traced, "__pow__", numpy_2_2_pow, raising=False)

    def body(model, optimizer, x):
        optimizer.zero_grad()
        loss = (model(x) ** 2).sum() + ((model(x) ** 2 + 1) ** 0.5).sum()
        loss.backward()
        optimizer.step()
        return loss
    (eager_model, eager_step), (model, step) = linear_twins(body, lr=0.01)
    compiled = chainrule.compile(step)
    for index in range(4):
        x = chainrule.tensor([[1.0, 2.0, 0.5]]) * (index + 1)
        assert compiled(x).item() == eager_step(x).item()
    assert compiled.program is not None  # recorded and replayed, not refused
    assert numpy.array_equal(model.weight.detach().numpy(), eager_model.weight.detach().numpy())

def test_a_max_pool_whose_ufunc_gives_two_results_replays_bit_for_bit():
    """Max pooling finds each window's row and column with ``divmod``, a ufunc with two
    results: the replay writes each into its own buffer."""
    def pooled():
        return nn.Sequential(nn.Conv2d(2, 3, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 3))
    steps = twin_models(OPTIMIZERS["momentum"], make_model=pooled)
    rng = numpy.random.default_rng(0)
    data = [(chainrule.tensor(rng.standard_normal((4, 2, 6, 6)).astype(numpy.float32)),
             chainrule.tensor(rng.integers(0, 3, 4))) for _ in range(5)]
    losses, compiled = run_both(steps, data)
    assert losses["compiled"] == losses["eager"]
    assert_same_state(steps[0][0], steps[1][0])
    assert compiled.recordings == 1
    assert any(instruction.results for instruction in flat(compiled.program.instructions))


def test_a_ufunc_with_two_results_written_into_given_arrays_gives_both_as_eager_mode_does():
    """``numpy.divmod(a, b, out=(q, r))`` returns the tuple (q, r): the recording too."""
    def remainder_and_quotient(x):
        q, r = numpy.empty_like(x.data), numpy.empty_like(x.data)
        quotient, remainder = numpy.divmod(x.data, 0.7, out=(q, r))
        return chainrule.tensor(remainder), chainrule.tensor(quotient)
    compiled = chainrule.compile(remainder_and_quotient)
    rng = numpy.random.default_rng(0)
    for _ in range(4):  # eager, recorded, replayed twice
        x = chainrule.tensor(rng.standard_normal(5))
        results = compiled(x)
        expected = remainder_and_quotient(x)
        for result, eager in zip(results, expected):
            numpy.testing.assert_array_equal(result.data, eager.data)
    assert compiled.recordings == 1


def _refused_on_recording(body, message):
    """``body(model, optimizer, x)`` compiled: its first call runs eagerly, its second (the
    recording, with the optimiser's group as the first found it) raises CompileError matching
    ``message``."""
    model = nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    compiled = chainrule.compile(lambda x: body(model, optimizer, x))
    group = dict(optimizer.param_groups[0])
    compiled(chainrule.ones(2, 3))
    optimizer.param_groups[0].clear()
    optimizer.param_groups[0].update(group)
    with pytest.raises(CompileError, match=message):
        compiled(chainrule.ones(2, 3))


def _new_weight_array(model, optimizer, x):
    model.weight.data = model.weight.data * 0.5
    return model(x).sum()


def _requires_grad_flipped(model, optimizer, x):
    model.bias.requires_grad = not model.bias.requires_grad
    return model(x).sum()


def _stepped_with_a_closure(model, optimizer, x):
    def closure():
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        return loss
    return optimizer.step(closure)


def _group_written_by_dict_methods(model, optimizer, x):
    optimizer.param_groups[0].update(lr=0.2)
    return model(x).sum()


def _group_merged_into(model, optimizer, x):
    optimizer.param_groups[0] |= {"lr": 0.1}
    return model(x).sum()


def _group_setting_popped(model, optimizer, x):
    optimizer.param_groups[0].pop("dampening")
    return model(x).sum()


def _group_cleared(model, optimizer, x):
    optimizer.param_groups[0].clear()
    return model(x).sum()


def _group_setting_deleted(model, optimizer, x):
    del optimizer.param_groups[0]["weight_decay"]
    return model(x).sum()


REFUSED = {  # a step's body, and what the recording's CompileError says
    "weight given a new array": (_new_weight_array,
                                 "gives a tensor of shape \\(2, 3\\) a new array"),
    "requires_grad flipped": (_requires_grad_flipped,
                              "changes requires_grad of a tensor it did not make"),
    "step(closure)": (_stepped_with_a_closure, "optimizer.step\\(closure\\) can't be recorded"),
    "group.update": (_group_written_by_dict_methods,
                     "sets 'lr' of an optimiser's parameter group itself"),
    "del group[key]": (_group_setting_deleted,
                       "sets 'weight_decay' of an optimiser's parameter group"),
    "group |= ...": (_group_merged_into, "sets 'lr' of an optimiser's parameter group"),
    "group.pop": (_group_setting_popped, "sets 'dampening' of an optimiser's parameter group"),
    "group.clear": (_group_cleared, "sets 'params' of an optimiser's parameter group"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_what_a_replay_would_not_do_is_refused_at_recording_by_name(case):
    _refused_on_recording(*REFUSED[case])


def test_a_compiled_step_called_while_another_records_is_refused():
    model = nn.Linear(3, 2)
    inner = chainrule.compile(lambda x: model(x).sum())
    outer = chainrule.compile(lambda x: inner(x) * 2)
    outer(chainrule.ones(2, 3))
    with pytest.raises(CompileError, match="while another step is being recorded"):
        outer(chainrule.ones(2, 3))


def test_a_setting_the_step_adds_to_a_group_by_setdefault_is_refused():
    model = nn.Linear(3, 2)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    compiled = chainrule.compile(
        lambda x: model(x).sum() * optimizer.param_groups[0].setdefault("scale", 2.0))
    compiled(chainrule.ones(2, 3))
    del optimizer.param_groups[0]["scale"]  # (outside the step: the group's own dict)
    with pytest.raises(CompileError, match="sets 'scale' of an optimiser's parameter group"):
        compiled(chainrule.ones(2, 3))
