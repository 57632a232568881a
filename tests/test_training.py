"""training.fit: repeatable, resumable bit for bit, early stopping with the best weights back."""
import io
import json

import numpy
import pytest

import chainrule
from chainrule import checkpoint, nn, optim, training, training_checkpoint
from chainrule.nn import functional as F


def blobs(seed=0, rows=120, classes=3, features=4):
    rng = numpy.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, features))
    labels = rng.integers(0, classes, size=rows)
    X = (centres[labels] + rng.normal(size=(rows, features))).astype(numpy.float32)
    return X, labels


def build(seed=0):
    """A small MLP with dropout and Adam: weights, optimizer moments and dropout masks matter."""
    chainrule.manual_seed(seed)
    model = nn.MLP([4, 16, 3], dropout=0.2)
    return model, optim.Adam(model.parameters(), lr=0.01)


def weights(model):
    return {name: tensor.data.copy() for name, tensor in model.state_dict().items()}


def run(tmp_path=None, epochs=4, resume=False, seed=0, patience=None, train=None, validation=None,
        **options):
    model, optimizer = build(seed)
    X, y = blobs()
    history = training.fit(model, F.cross_entropy, optimizer, train or (X[:90], y[:90]),
                           validation or (X[90:], y[90:]), epochs=epochs, batch_size=16,
                           metrics={"accuracy": training.accuracy}, seed=seed,
                           patience=patience, checkpoint_dir=tmp_path, resume=resume,
                           progress=False, **options)
    return model, history


def test_the_same_seed_gives_the_same_weights_and_history():
    first_model, first = run()
    second_model, second = run()
    assert first["loss"] == second["loss"]
    for name, array in weights(first_model).items():
        numpy.testing.assert_array_equal(array, weights(second_model)[name])


def test_another_seed_gives_other_weights():
    first_model, _ = run(seed=0)
    second_model, _ = run(seed=1)
    first, second = weights(first_model)["0.weight"], weights(second_model)["0.weight"]
    assert not numpy.array_equal(first, second)


def test_a_resumed_run_ends_with_the_same_weights_bit_for_bit(tmp_path):
    uninterrupted, full_history = run(tmp_path / "straight", epochs=5)
    run(tmp_path / "interrupted", epochs=2)                      # "crashes" after epoch 2
    resumed, resumed_history = run(tmp_path / "interrupted", epochs=5, resume=True, seed=0)
    assert resumed_history["epoch"] == [1, 2, 3, 4, 5]
    assert resumed_history["loss"] == full_history["loss"]
    for name, array in weights(uninterrupted).items():
        numpy.testing.assert_array_equal(weights(resumed)[name], array)


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path):
    straight, _ = run(epochs=3)
    resumed, history = run(tmp_path / "empty", epochs=3, resume=True)
    assert history["epoch"] == [1, 2, 3]
    numpy.testing.assert_array_equal(weights(resumed)["3.weight"], weights(straight)["3.weight"])


def test_resume_refuses_a_checkpoint_whose_best_weights_are_missing(tmp_path):
    # without them the run ended with its last epoch's weights while its history named an
    # earlier best epoch, whose validation numbers the run reported, silently
    X, y = blobs()
    flipped = (y[90:] + 1) % 3  # the validation loss rises as the model learns: best epoch 1
    _, history = run(tmp_path, epochs=3, validation=(X[90:], flipped))
    assert history.best_epoch == 1
    (tmp_path / training_checkpoint.BEST_WEIGHTS).unlink()
    with pytest.raises(chainrule.errors.CheckpointError,
                       match=r"best.safetensors: file not found; the checkpoint's run kept its "
                             r"best epoch's \(1\) weights there"):
        run(tmp_path, epochs=4, resume=True, validation=(X[90:], flipped))


def edited(array, row=3):
    changed = array.copy()
    changed[row] = changed[row] + 1 if changed.dtype.kind == "f" else (changed[row] + 1) % 3
    return changed


@pytest.mark.parametrize("change, message", [
    (dict(batch_size=8), r"fit\(resume=True\) with batch_size=8, but the checkpoint's run was "
                         r"trained with batch_size=16"),
    (dict(seed=1), r"with seed=1, but .* seed=0"),
    (dict(clip_grad_norm=1.0), r"with clip_grad_norm=1\.0, but .* clip_grad_norm=None"),
    (dict(X=edited), r"with other training or validation data than the checkpoint's run"),
    (dict(y=edited), r"with other training or validation data"),
    (dict(X_val=edited), r"with other training or validation data"),
    (dict(rows=80), r"with samples=80, but .* samples=90"),
])
def test_resume_refuses_other_settings_or_data_before_restoring_anything(tmp_path, change,
                                                                        message):
    # a resumed run went on silently with another batch size or an edited table, and called
    # the result the interrupted run's
    X, y = blobs()
    rows = change.get("rows", 90)
    train = (change.get("X", lambda a: a)(X)[:rows], change.get("y", lambda a: a)(y)[:rows])
    validation = (change.get("X_val", lambda a: a)(X[90:]), y[90:])
    settings = dict(batch_size=16, seed=0, clip_grad_norm=None)
    run(tmp_path, epochs=2)
    model, optimizer = build()
    before = weights(model)
    with pytest.raises(chainrule.errors.TrainingError, match=message):
        training.fit(model, F.cross_entropy, optimizer, train, validation, epochs=4,
                     checkpoint_dir=tmp_path, resume=True, progress=False,
                     **{**settings, **{k: v for k, v in change.items() if k in settings}})
    for name, array in before.items():  # nothing of the checkpoint was restored
        numpy.testing.assert_array_equal(weights(model)[name], array)
    _, history = run(tmp_path, epochs=4, resume=True)  # the same run: it goes on
    assert history["epoch"] == [1, 2, 3, 4]


def test_resume_checks_the_data_of_a_tensor_dataset_subclass(tmp_path):
    # its arrays are arrays like any TensorDataset's: known by its class's name alone, it went
    # unchecked, and a resume on an edited table went on as the interrupted run
    class Rows(chainrule.data.TensorDataset):
        pass

    X, y = blobs()
    run(tmp_path, epochs=2, train=Rows(X[:90], y[:90]))
    edited = X[:90].copy()
    edited[0, 0] += 1
    with pytest.raises(chainrule.errors.TrainingError, match="other training or validation data"):
        run(tmp_path, epochs=4, resume=True, train=Rows(edited, y[:90]))


def test_resume_refuses_a_schedule_other_than_the_checkpoints(tmp_path):
    # the checkpoint restored the old schedule over the new one: resumed with more epochs for
    # its cosine, the run went past the cosine's end, where the rate climbs again
    def cosine_run(epochs, resume=False):
        model, optimizer = build()
        schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        X, y = blobs()
        training.fit(model, F.cross_entropy, optimizer, (X, y), epochs=epochs, batch_size=32,
                     scheduler=schedule, checkpoint_dir=tmp_path, resume=resume,
                     progress=False)
        return optimizer
    cosine_run(3)
    with pytest.raises(chainrule.errors.TrainingError,
                       match=r"with schedule=.*'T_max', 6.*but the checkpoint's run was trained "
                             r"with schedule=.*'T_max', 3"):
        cosine_run(6, resume=True)
    assert cosine_run(3, resume=True).param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_early_stopping_restores_the_best_epochs_weights():
    X, y = blobs()
    # Validation labels that disagree with the training labels: validation loss rises as the
    # model learns, so the best epoch comes early and patience runs out.
    flipped = (y[90:] + 1) % 3
    stopped, history = run(epochs=30, patience=2, validation=(X[90:], flipped))
    best = history.best_epoch
    assert history.stopped_early
    assert len(history) == best + 2
    assert history["val_loss"][best - 1] == min(history["val_loss"])
    replay, _ = run(epochs=best, validation=(X[90:], flipped))
    for name, array in weights(replay).items():
        numpy.testing.assert_array_equal(weights(stopped)[name], array)


def test_monitoring_accuracy_keeps_the_most_accurate_epoch():
    _, history = run(epochs=6, monitor="val_accuracy")
    assert history["val_accuracy"][history.best_epoch - 1] == max(history["val_accuracy"])


def test_an_unknown_monitor_names_the_choices():
    with pytest.raises(ValueError, match="'val_f1' is not measured"):
        run(epochs=1, monitor="val_f1")


def test_progress_without_a_terminal_is_one_line_per_epoch():
    stream = io.StringIO()
    model, optimizer = build()
    X, y = blobs()
    training.fit(model, F.cross_entropy, optimizer, (X, y), epochs=3, batch_size=32,
                 stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("epoch 3/3  loss ") and "samples/s" in lines[2]


def test_a_diverging_loss_stops_training_with_advice():
    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(numpy.float32) * 100
    y = X @ numpy.ones((3, 1), dtype=numpy.float32)
    model = nn.Linear(3, 1)
    with numpy.errstate(all="ignore"), \
            pytest.raises(training.TrainingError, match="epoch 1; try a smaller learning rate"):
        training.fit(model, F.mse_loss, optim.SGD(model.parameters(), lr=10.0), (X, y),
                     epochs=3, batch_size=8, progress=False)


def test_history_saves_as_json_and_plots_as_png(tmp_path):
    _, history = run(epochs=2)
    history.save(tmp_path / "history.json")
    history.plot(tmp_path / "history.png")
    saved = json.loads((tmp_path / "history.json").read_text())
    assert [record["epoch"] for record in saved["epochs"]] == [1, 2]
    assert set(saved["epochs"][0]) >= {"loss", "val_loss", "val_accuracy", "samples_per_second"}
    assert training.History.load(tmp_path / "history.json")["loss"] == history["loss"]
    assert (tmp_path / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluation_averages_over_examples_whatever_the_batch_size():
    model, _ = build()
    X, y = blobs()
    small = training.evaluate(model, F.cross_entropy, (X, y), batch_size=7)["loss"]
    whole = training.evaluate(model, F.cross_entropy, (X, y), batch_size=1000)["loss"]
    assert small == pytest.approx(whole, rel=1e-6)


def test_evaluation_builds_no_graph_and_turns_dropout_off():
    recorded = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Dropout(0.5)

        def forward(self, x):
            recorded.append((chainrule.is_grad_enabled(), self.training))
            return self.inner(x)

    spy = Spy()
    X = numpy.ones((4, 3), dtype=numpy.float32)
    numpy.testing.assert_array_equal(training.predict(spy, X), X)
    assert recorded == [(False, False)]
    assert spy.training  # put back as it was


def test_metrics_on_known_values():
    assert training.accuracy(numpy.array([[2.0, 1.0], [0.0, 3.0]]), numpy.array([0, 0])) == 0.5
    assert training.accuracy(numpy.array([[0.3], [-2.0]]), numpy.array([[1.0], [0.0]])) == 1.0
    assert training.rmse(numpy.array([1.0, 3.0]), numpy.array([2.0, 2.0])) == 1.0
    assert training.r2(numpy.array([1.0, 2.0, 3.0]), numpy.array([1.0, 2.0, 3.0])) == 1.0
    assert training.r2(numpy.full(3, 2.0), numpy.array([1.0, 2.0, 3.0])) == 0.0


@pytest.mark.parametrize("constant", [[], [0], [1], [0, 1]])  # the columns of equal targets
def test_r2_is_scikit_learns_also_where_the_targets_do_not_vary(constant):
    # scikit-learn scores a column without variance 1 if predicted exactly, else 0 (an
    # estimator's score() is its r2_score), where 1 − residual/0 would be −inf or NaN
    from sklearn.metrics import r2_score
    rng = numpy.random.default_rng(len(constant))
    targets = rng.standard_normal((20, 3))
    targets[:, constant] = 4.0
    outputs = targets + 0.3 * rng.standard_normal((20, 3))
    outputs[:, 1] = targets[:, 1]  # column 1 predicted exactly
    with numpy.errstate(all="raise"):
        assert training.r2(outputs, targets) == pytest.approx(r2_score(targets, outputs),
                                                              rel=1e-12)
        assert training.r2(outputs[:, 2], targets[:, 2]) == pytest.approx(
            r2_score(targets[:, 2], outputs[:, 2]), rel=1e-12)


def test_a_schedule_steps_once_per_epoch_and_resumes_with_the_run(tmp_path):
    def scheduled(folder, epochs, resume=False):
        model, optimizer = build()
        schedule = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        X, y = blobs()
        training.fit(model, F.cross_entropy, optimizer, (X, y), epochs=epochs, batch_size=32,
                     scheduler=schedule, checkpoint_dir=folder, resume=resume, progress=False)
        return model, optimizer

    straight, optimizer = scheduled(tmp_path / "straight", 3)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5 ** 3)
    scheduled(tmp_path / "resumed", 1)
    resumed, optimizer = scheduled(tmp_path / "resumed", 3, resume=True)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5 ** 3)
    for name, array in weights(straight).items():
        numpy.testing.assert_array_equal(weights(resumed)[name], array)


def test_a_plateau_schedule_watches_the_monitor_and_resumes_with_the_run(tmp_path):
    def scheduled(folder, epochs, resume=False, monitor="val_loss", mode="min"):
        model, optimizer = build()
        optimizer.param_groups[0]["lr"] = 0.2  # large enough to overshoot now and then
        schedule = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=0.5,
                                                        patience=0, threshold=0.0)
        X, y = blobs()
        history = training.fit(model, F.cross_entropy, optimizer, (X[:90], y[:90]),
                               (X[90:], y[90:]), epochs=epochs, batch_size=32, monitor=monitor,
                               metrics={"accuracy": training.accuracy}, scheduler=schedule,
                               checkpoint_dir=folder, resume=resume, progress=False)
        return model, optimizer, schedule, history

    straight, optimizer, schedule, history = scheduled(tmp_path / "straight", 8)
    losses = [record["val_loss"] for record in history.records]
    # patience 0: the rate halves after each epoch that is no better than every one before it
    worse = sum(loss >= min(losses[:epoch]) for epoch, loss in enumerate(losses) if epoch)
    assert 0 < worse < len(losses) - 1, "the test needs epochs with and without improvement"
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * 0.5 ** worse)
    assert schedule.best == min(losses)
    scheduled(tmp_path / "resumed", 3)
    resumed, optimizer, _, _ = scheduled(tmp_path / "resumed", 8, resume=True)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * 0.5 ** worse)
    for name, array in weights(straight).items():
        numpy.testing.assert_array_equal(weights(resumed)[name], array)
    with pytest.raises(ValueError, match="mode='max'"):
        scheduled(None, 1, monitor="val_accuracy")


def test_clipping_bounds_every_steps_gradient_norm():
    norms = []

    class Recorder(optim.SGD):
        def step(self, closure=None):
            squares = [float((p.grad.data ** 2).sum()) for p in self.param_groups[0]["params"]]
            norms.append(sum(squares) ** 0.5)
            return super().step(closure)

    model, _ = build()
    X, y = blobs()
    training.fit(model, F.cross_entropy, Recorder(model.parameters(), lr=0.1), (X * 100, y),
                 epochs=1, batch_size=16, clip_grad_norm=0.5, progress=False)
    assert max(norms) <= 0.5 + 1e-5


def test_checkpoints_are_saved_at_most_once_a_second_and_always_after_the_last_epoch(
        tmp_path, monkeypatch):
    saved_epochs = []
    save = training._save_checkpoint

    def counting_save(folder, model, optimizer, scheduler, history, state, *rest):
        saved_epochs.append(history.last["epoch"])
        save(folder, model, optimizer, scheduler, history, state, *rest)

    monkeypatch.setattr(training, "_save_checkpoint", counting_save)
    monkeypatch.setattr(training, "CHECKPOINT_INTERVAL_SECONDS", 3600.0)
    model, history = run(tmp_path, epochs=5)
    assert saved_epochs == [1, 5]
    best = nn.MLP([4, 16, 3], dropout=0.2)
    checkpoint.load_weights(tmp_path / training_checkpoint.BEST_WEIGHTS, best)
    for name, array in weights(model).items():   # the best epoch's weights, put back at the end
        numpy.testing.assert_array_equal(weights(best)[name], array)


def test_min_delta_stops_when_the_training_loss_has_converged():
    _, converged = run(epochs=200, monitor="loss", patience=3, min_delta=0.05)
    _, strict = run(epochs=200, monitor="loss", patience=3)
    assert converged.stopped_early and len(converged) < len(strict)
    losses = converged["loss"]
    assert min(losses[-3:]) >= min(losses[:-3]) - 0.05


def test_still_improving_compares_the_last_epochs_with_the_best_before_them():
    def history(losses, monitor="loss"):
        return training.History([{"epoch": i + 1, monitor: value} for i, value in
                                 enumerate(losses)], monitor=monitor)

    falling = [1.0 / epoch for epoch in range(1, 31)]
    assert history(falling).still_improving(window=10, tol=1e-4)
    flat = falling[:20] + [falling[19]] * 10
    assert not history(flat).still_improving(window=10, tol=1e-4)
    assert history([0.5, 0.6, 0.9], "val_accuracy").still_improving(window=10)
    assert not history([0.9, 0.6, 0.5], "val_accuracy").still_improving(window=2)


def test_a_history_shows_its_loss_plot_and_best_epoch_in_a_notebook(tmp_path):
    _, history = run(tmp_path, epochs=3)
    html = history._repr_html_()
    assert html.count("<svg") == 1 and "<?xml" not in html         # the plot, inline
    assert f"best epoch {history.best_epoch}" in html and "<table>" in html
    assert "val_loss" in html
