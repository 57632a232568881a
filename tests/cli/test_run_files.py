"""A run directory from outside is checked, not trusted; an existing run is never lost.

Each tampered file must give one line on stderr (exit 2) naming the file and the field, for
evaluate, predict and train --resume alike."""
import hashlib
import json
import os
import shutil

import numpy
import pytest

from chainrule.cli import main


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """(a finished softmax run, its CSV): three well separated classes, two epochs."""
    folder = tmp_path_factory.mktemp("runs")
    rng = numpy.random.default_rng(0)
    rows = []
    for index in range(60):
        label = index % 3
        x, y = [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)][label]
        rows.append(f"{x + rng.normal():.3f},{y + rng.normal():.3f},c{label}\n")
    data = folder / "points.csv"
    data.write_text("x,y,label\n" + "".join(rows))
    assert main(["train", "--csv", str(data), "--target", "label", "--model", "softmax",
                 "--epochs", "2", "--out", str(folder / "run"), "--quiet"]) == 0
    return folder / "run", data


@pytest.fixture
def run_copy(finished, tmp_path):
    run, data = finished
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run", data


def fails(capsys, arguments) -> str:
    code = main(arguments)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def commands(run, data):
    return [["evaluate", str(run)], ["predict", str(run), "--input", str(data)],
            ["train", "--csv", str(data), "--target", "label", "--model", "softmax", "--epochs",
             "2", "--out", str(run), "--quiet", "--resume"]]


def edited(config: dict, path: list, value):
    *parents, last = path
    for key in parents:
        config = config[key]
    if value is KeyError:
        del config[last]
    else:
        config[last] = value


@pytest.mark.parametrize("path, value, message", [
    (["model"], KeyError, "config.json: model: missing"),
    (["model", "sizes"], "2,3", "config.json: model.sizes: expected a list, got '2,3'"),
    (["model", "sizes", 1], -3, "config.json: model.sizes[1]: expected an integer of at least 1"),
    (["model", "kind"], "svm", "config.json: model.kind: expected one of"),
    (["model", "activation"], "swish", "config.json: model.activation: expected one of"),
    (["fitting", "lr"], "fast", "config.json: fitting.lr: expected a finite number above 0"),
    (["split", "seed"], 1.5, "config.json: split.seed: expected an integer, got 1.5"),
    (["scaler", "scale", 0], 0, "config.json: scaler.scale[0]: expected a finite number above 0"),
    (["encoder", "columns", 0, "kind"], "date", "config.json: encoder.columns[0].kind"),
    # fields that fit the schema but not each other
    (["classes"], ["c0", "c1"], "config.json: model.sizes: the model has 3 outputs but the task "
                                "needs 2"),
    (["classes"], None, "config.json: classes: a classifier needs at least two classes"),
    (["task"], "regression", "config.json: model.kind: softmax is a classifier, but the task is "
                             "regression"),
    (["scaler", "mean"], [0.0], "config.json: scaler.mean: gives 1 input columns but the model "
                                "takes 2"),
    (["feature_names"], ["x", "y", "z"], "config.json: feature_names: gives 3 input columns"),
])
def test_a_config_field_out_of_its_schema_is_one_line_naming_it(run_copy, capsys, path, value,
                                                                 message):
    run, data = run_copy
    config = json.loads((run / "config.json").read_text())
    edited(config, path, value)
    (run / "config.json").write_text(json.dumps(config))
    for arguments in commands(run, data):
        assert message in fails(capsys, arguments), arguments


@pytest.mark.parametrize("content, message", [
    (b"{", "config.json: not valid JSON"),
    (b"null", "config.json: the whole file: expected an object"),
    (b"[1, 2]", "config.json: the whole file: expected an object"),
    (b'{"format": NaN}', "config.json: not valid JSON: NaN is not a JSON number"),
    (b'{"format": "chainrule.run\xff"}', "config.json: not UTF-8 text"),
])
def test_a_config_that_is_not_a_json_object_is_one_line(run_copy, capsys, content, message):
    run, data = run_copy
    (run / "config.json").write_bytes(content)
    for arguments in commands(run, data):
        assert message in fails(capsys, arguments), arguments


def test_absurd_layer_sizes_are_refused_before_memory_is_taken(run_copy, capsys):
    run, data = run_copy
    config = json.loads((run / "config.json").read_text())
    config["model"].update(kind="mlp", activation="relu", sizes=[2, 2_000_000_000, 3])
    (run / "config.json").write_text(json.dumps(config))
    err = fails(capsys, ["evaluate", str(run)])
    assert "config.json: model.sizes: describes a model of 12,000,000,003 parameters" in err


def test_weights_of_another_dtype_are_refused(run_copy, capsys):
    import safetensors.numpy

    run, data = run_copy
    weights = safetensors.numpy.load_file(str(run / "model.safetensors"))
    weights["weight"] = weights["weight"].astype(numpy.float16)
    safetensors.numpy.save_file(weights, str(run / "model.safetensors"))
    err = fails(capsys, ["predict", str(run), "--input", str(data)])
    assert "model.safetensors: tensor 'weight' has dtype float16" in err


def test_resume_refuses_damaged_checkpoint_progress(run_copy, capsys):
    import safetensors

    run, data = run_copy
    path = run / "checkpoint" / "checkpoint.safetensors"
    with safetensors.safe_open(str(path), framework="np") as file:
        metadata = file.metadata()
    extra = json.loads(metadata["extra"])
    extra["early_stopping"]["waited"] = -1
    tensors = safetensors.numpy.load_file(str(path))
    safetensors.numpy.save_file(tensors, str(path), {**metadata, "extra": json.dumps(extra)})
    err = fails(capsys, commands(run, data)[2])
    assert "checkpoint.safetensors: metadata extra.early_stopping.waited: expected an integer" \
        in err


@pytest.mark.parametrize("damage", ["checkpoint cut short", "best weights missing",
                                    "best weights cut short"])
def test_a_refused_resume_leaves_a_finished_run_as_it_was(run_copy, capsys, damage):
    # the checkpoint is read before the run is marked unfinished: metrics.json used to go first
    run, data = run_copy
    name = "checkpoint.safetensors" if damage.startswith("checkpoint") else "best.safetensors"
    path = run / "checkpoint" / name
    if damage.endswith("missing"):
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    before = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}
    assert str(path) in fails(capsys, commands(run, data)[2])
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == before
    assert main(["evaluate", str(run)]) == 0


def rewritten(path, change) -> None:
    """Rewrite the safetensors file at ``path`` with ``change(tensors)`` applied, metadata kept."""
    import safetensors
    import safetensors.numpy

    with safetensors.safe_open(path, "numpy") as handle:
        metadata, tensors = handle.metadata(), {name: handle.get_tensor(name)
                                                for name in handle.keys()}
    change(tensors)
    path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))


@pytest.mark.parametrize("name, change", [
    ("checkpoint.safetensors", lambda tensors: tensors.update({"model.extra": tensors["model.bias"]})),
    ("checkpoint.safetensors", lambda tensors: tensors.update({"model.bias": tensors["model.bias"][:1]})),
    ("best.safetensors", lambda tensors: tensors.update({"weight": tensors["weight"].T.copy()})),
], ids=["checkpoint with a tensor the model lacks", "checkpoint of another shape",
        "best weights of another shape"])
def test_a_resume_refused_for_a_checkpoint_that_does_not_fit_leaves_the_run_finished(
        run_copy, capsys, name, change):
    # a readable file that does not fit the model was found only by fit, after metrics.json went
    run, data = run_copy
    path = run / "checkpoint" / name
    rewritten(path, change)
    before = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}
    assert str(path) in fails(capsys, commands(run, data)[2])
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == before
    assert main(["evaluate", str(run)]) == 0


def test_an_unfinished_run_is_refused_by_evaluate(run_copy, capsys):
    run, data = run_copy
    (run / "metrics.json").unlink()
    assert "the run did not finish (no metrics.json); continue it with --resume" in \
        fails(capsys, ["evaluate", str(run)])


def test_evaluate_away_from_a_relative_training_csv_says_where_it_looked(
        finished, tmp_path, monkeypatch, capsys):
    _, data = finished
    (tmp_path / "project").mkdir()
    shutil.copy(data, tmp_path / "project" / "points.csv")
    monkeypatch.chdir(tmp_path / "project")
    assert main(["train", "--csv", "points.csv", "--target", "label", "--model", "softmax",
                 "--epochs", "2", "--out", "run", "--quiet"]) == 0
    capsys.readouterr()  # train's warning that the loss still fell
    monkeypatch.chdir(tmp_path)
    err = fails(capsys, ["evaluate", "project/run"])
    assert "project/run/config.json" in err and "'points.csv'" in err and str(tmp_path) in err
    assert "(--csv)" in err


# ---------------------------------------------------------------- no run is lost
def test_training_into_an_existing_run_is_refused_and_overwrite_replaces_it(run_copy, capsys):
    run, data = run_copy
    before = (run / "model.safetensors").read_bytes()
    again = ["train", "--csv", str(data), "--target", "label", "--model", "softmax", "--epochs",
             "2", "--out", str(run), "--quiet", "--seed", "1"]
    err = fails(capsys, again)
    assert "already holds a run; pass --overwrite to replace it" in err and "--resume" in err
    assert (run / "model.safetensors").read_bytes() == before
    assert main(again + ["--overwrite"]) == 0
    capsys.readouterr()
    assert (run / "model.safetensors").read_bytes() != before
    assert json.loads((run / "config.json").read_text())["fitting"]["seed"] == 1
    assert sorted(entry.name for entry in run.parent.iterdir()) == ["run"]


def test_a_diverging_overwrite_leaves_the_old_run_evaluable(run_copy, capsys):
    run, data = run_copy
    assert main(["evaluate", str(run)]) == 0
    old_metrics = capsys.readouterr().out
    err = fails(capsys, ["train", "--csv", str(data), "--target", "label", "--model", "softmax",
                         "--lr", "1e30", "--optimizer", "adam", "--epochs", "2", "--out", str(run), "--quiet",
                         "--overwrite"])
    assert "training diverged" in err and f"; the run in {run} is as it was, not replaced" in err
    assert main(["evaluate", str(run)]) == 0
    assert capsys.readouterr().out == old_metrics


def every_file(run) -> dict:
    return {str(path.relative_to(run)): path.read_bytes() for path in sorted(run.rglob("*"))
            if path.is_file()}


def extended_to(epochs: int, run, data) -> list:
    """The finished run's command (2 epochs) resumed with more epochs."""
    return ["train", "--csv", str(data), "--target", "label", "--model", "softmax", "--epochs",
            str(epochs), "--out", str(run), "--quiet", "--resume"]


def test_a_diverging_extension_leaves_the_finished_run_as_it_was(run_copy, capsys,
                                                                 monkeypatch):
    # a finished run resumed with more epochs used to delete its metrics.json and go on in
    # place: a diverged extension left a run that evaluate refused, its final weights gone
    from chainrule import training

    run, data = run_copy
    assert main(["evaluate", str(run)]) == 0
    old_metrics, before = capsys.readouterr().out, every_file(run)
    real_check = training.check_parameters

    def diverging_after_epoch_4(model, where):  # epoch 3 has written its checkpoint
        if where == "after epoch 4":
            next(iter(model.parameters())).data.fill(numpy.nan)
        real_check(model, where)
    monkeypatch.setattr(training, "check_parameters", diverging_after_epoch_4)
    err = fails(capsys, extended_to(6, run, data))
    assert "training diverged" in err and "after epoch 4" in err
    assert f"; the finished run in {run} is as it was, not extended" in err
    assert every_file(run) == before
    assert sorted(entry.name for entry in run.parent.iterdir()) == ["run"]
    assert main(["evaluate", str(run)]) == 0
    assert capsys.readouterr().out == old_metrics


def interrupted_after_epoch(epoch: int, monkeypatch):
    """Make the next training stop with Ctrl-C once epoch ``epoch`` is checkpointed (every
    epoch is, not once a second)."""
    from chainrule import training

    real_save = training._save_checkpoint

    def interrupted(folder, model, optimizer, scheduler, history, *rest):
        real_save(folder, model, optimizer, scheduler, history, *rest)
        if history.records[-1]["epoch"] == epoch:
            raise KeyboardInterrupt
    monkeypatch.setattr(training, "_save_checkpoint", interrupted)
    monkeypatch.setattr(training, "CHECKPOINT_INTERVAL_SECONDS", 0.0)


def extension_copies(folder) -> list:
    return sorted(entry for entry in folder.iterdir() if ".extending-" in entry.name)


def trained_straight(epochs: int, tmp_path, data) -> bytes:
    """The weights of a run trained to ``epochs`` uninterrupted."""
    straight = tmp_path / f"straight-{epochs}"
    assert main(extended_to(epochs, straight, data)[:-1]) == 0
    return (straight / "model.safetensors").read_bytes()


def test_an_interrupted_extension_is_continued_from_its_copy_to_a_straight_runs_weights(
        run_copy, tmp_path, capsys, monkeypatch):
    # an interrupted extension's epochs were deleted with its copy: the same command started
    # it again from the finished run's last epoch
    run, data = run_copy
    before = every_file(run)
    interrupted_after_epoch(4, monkeypatch)
    assert main(extended_to(6, run, data)) == 130
    [copy] = extension_copies(tmp_path)
    assert f"interrupted; the finished run in {run} is as it was, not extended yet: the " \
           f"extension's progress is kept in {copy}, and the same command continues it" in \
        capsys.readouterr().err
    assert every_file(run) == before
    assert main(["evaluate", str(run)]) == 0  # the finished run, still evaluable
    monkeypatch.undo()
    capsys.readouterr()
    assert main(extended_to(6, run, data)[:-2] + ["--resume"]) == 0  # not --quiet: what it says
    out, err = capsys.readouterr()
    assert f"continuing the interrupted extension of the finished run in {run} from its " \
           f"checkpoint at epoch 4, in its copy {copy}" in out
    assert f"resuming at epoch 5 of 6 (checkpoint in {copy / 'checkpoint'})" in err
    assert (run / "model.safetensors").read_bytes() == trained_straight(6, tmp_path, data)
    straight = tmp_path / "straight-6"
    assert json.loads((run / "metrics.json").read_text())["test"] == \
        json.loads((straight / "metrics.json").read_text())["test"]
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [record["epoch"] for record in history] == [1, 2, 3, 4, 5, 6]
    measured = ("loss", "val_loss", "val_accuracy")  # (not the seconds each epoch took)
    assert [[record[key] for key in measured] for record in history] == \
        [[record[key] for key in measured]
         for record in json.loads((straight / "history.json").read_text())["epochs"]]
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["run", "straight-6"]


def test_an_interrupted_extension_continues_to_a_nearer_end_asked_for_later(
        run_copy, tmp_path, capsys, monkeypatch):
    run, data = run_copy
    interrupted_after_epoch(4, monkeypatch)
    assert main(extended_to(8, run, data)) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert main(extended_to(5, run, data)[:-2] + ["--resume"]) == 0
    assert "from its checkpoint at epoch 4" in capsys.readouterr().out
    assert (run / "model.safetensors").read_bytes() == trained_straight(5, tmp_path, data)
    assert extension_copies(tmp_path) == []


def test_an_interrupted_extension_past_the_end_asked_for_now_is_discarded_with_a_message(
        run_copy, tmp_path, capsys, monkeypatch):
    # its weights are those of epoch 5: no run trained to 3 epochs has them
    run, data = run_copy
    interrupted_after_epoch(5, monkeypatch)
    assert main(extended_to(8, run, data)) == 130
    [copy] = extension_copies(tmp_path)
    monkeypatch.undo()
    capsys.readouterr()
    assert main(extended_to(3, run, data)[:-2] + ["--resume"]) == 0
    out, err = capsys.readouterr()
    assert f"the copy {copy} of an interrupted extension is discarded: it has trained to epoch " \
           "5, past the 3 epochs asked for now; the extension starts again from the finished " \
           "run" in out
    assert f"extending the finished run in {run} in a copy" in out
    assert "resuming at epoch 3 of 3" in err
    assert (run / "model.safetensors").read_bytes() == trained_straight(3, tmp_path, data)
    assert extension_copies(tmp_path) == []


def test_a_resume_to_fewer_epochs_than_trained_is_refused(run_copy, tmp_path, capsys):
    # it used to train nothing and rewrite config.json with the fewer epochs, beside the
    # weights, history and metrics of the epochs the run had trained
    run, data = run_copy
    before = every_file(run)
    for finished in (True, False):
        err = fails(capsys, extended_to(1, run, data))
        assert f"--resume: {run} has trained to epoch 2; --epochs 1 would end before it (a run " \
               "cannot be shortened): give --epochs 2 or more" in err
        assert every_file(run) == before
        assert sorted(entry.name for entry in tmp_path.iterdir()) == ["run"]
        if finished:  # as if killed after its last checkpoint: resumed in place
            (run / "metrics.json").unlink()
            before = every_file(run)


def test_a_refused_resume_leaves_an_interrupted_extension_to_continue(run_copy, tmp_path,
                                                                      capsys, monkeypatch):
    run, data = run_copy
    interrupted_after_epoch(4, monkeypatch)
    assert main(extended_to(6, run, data)) == 130
    [copy] = extension_copies(tmp_path)
    kept = every_file(copy)
    monkeypatch.undo()
    capsys.readouterr()
    err = fails(capsys, extended_to(6, run, data) + ["--batch-size", "7"])
    assert "--batch-size" in err
    assert every_file(copy) == kept
    assert main(extended_to(6, run, data)) == 0
    assert (run / "model.safetensors").read_bytes() == trained_straight(6, tmp_path, data)


def test_overwrite_discards_an_interrupted_extension(run_copy, tmp_path, capsys, monkeypatch):
    run, data = run_copy
    interrupted_after_epoch(4, monkeypatch)
    assert main(extended_to(6, run, data)) == 130
    assert len(extension_copies(tmp_path)) == 1
    monkeypatch.undo()
    new_run = extended_to(3, run, data)[:-1] + ["--overwrite"]
    assert main(new_run) == 0
    assert extension_copies(tmp_path) == []
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 3
    capsys.readouterr()
    assert main(extended_to(4, run, data)[:-2] + ["--resume"]) == 0  # the new run, from epoch 3
    assert "resuming at epoch 4 of 4" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == trained_straight(4, tmp_path, data)


def test_predict_into_a_directory_leaves_no_temporary_file(run_copy, tmp_path, capsys):
    run, data = run_copy
    (tmp_path / "out").mkdir()
    assert "is a directory" in fails(capsys, ["predict", str(run), "--input", str(data),
                                              "--output", str(tmp_path / "out")])
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["out", "run"]
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("hash_kept", [True, False], ids=["run with the CSV's hash",
                                                        "run saved before the hash was kept"])
def test_resume_refuses_a_csv_whose_rows_changed_since_the_run(finished, tmp_path, capsys,
                                                               hash_kept):
    # the same file and settings, other values: the checkpoint's weights were learnt on the old
    # rows, and resuming used to rewrite config.json with the new rows' scaling beside them
    data = tmp_path / "points.csv"
    data.write_bytes(finished[1].read_bytes())
    run = tmp_path / "run"
    assert main(commands(run, data)[2][:-1]) == 0  # trained, without --resume
    capsys.readouterr()
    if not hash_kept:  # an older run's config.json: the data are checked by their encoding
        config = json.loads((run / "config.json").read_text())
        del config["source"]["csv_sha256"]
        (run / "config.json").write_text(json.dumps(config))
    header, *rows = data.read_text().splitlines()
    data.write_text("\n".join([header] + [f"{3 * float(row.split(',')[0]) + 1:.3f},"
                                          + row.split(",", 1)[1] for row in rows]) + "\n")
    before = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()}
    err = fails(capsys, commands(run, data)[2])
    if hash_kept:
        assert f"--resume with --csv {data}, whose content has changed since the run in {run} " \
               "started" in err
    else:
        assert f"--resume with data that are not those the run in {run} was trained on" in err
        assert "(their encoder differs from its config.json's" in err
    assert "--overwrite" in err
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file()} == before
    data.write_bytes(finished[1].read_bytes())
    assert main(commands(run, data)[2]) == 0  # the same rows resume


def a_regression_run(tmp_path) -> tuple:
    """(the command that trained a linear model on a small regression CSV, the CSV, the line of
    a row in the run's test split)."""
    from chainrule import runs
    from chainrule.run_config import RunConfig

    rows = "".join(f"{index % 7},{index % 5},{index % 7 + 2 * (index % 5) + index / 40:.3f}\n"
                   for index in range(40))
    data = tmp_path / "reg.csv"
    data.write_text("a,b,y\n" + rows)
    arguments = ["train", "--csv", str(data), "--target", "y", "--model", "linear", "--epochs",
                 "2", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(arguments) == 0
    test_rows = runs.prepare_data(RunConfig(csv=str(data), target="y", model="linear")).test
    return arguments, data, int(test_rows.lines[0])


def with_target_changed(data, line: int) -> None:
    """The CSV with the target of the row on ``line`` (the header is line 1) increased by 1."""
    lines = data.read_text().splitlines()
    *features, target = lines[line - 1].split(",")
    lines[line - 1] = ",".join([*features, f"{float(target) + 1:.3f}"])
    data.write_text("\n".join(lines) + "\n")


def test_a_csv_changed_in_its_test_rows_alone_is_refused_by_resume_and_evaluate(tmp_path,
                                                                                capsys):
    # a regression target's test rows are in no encoding, scaling or training array: resume
    # went on, and evaluate recomputed the "test split" from the edited rows
    arguments, data, test_line = a_regression_run(tmp_path)
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["source"]["csv_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    with_target_changed(data, test_line)
    capsys.readouterr()
    before = every_file(run)
    err = fails(capsys, arguments + ["--resume"])
    assert err == (f"chainrule train: error: --resume with --csv {data}, whose content has "
                   f"changed since the run in {run} started (its SHA-256 is not the one in "
                   "config.json): the run would go on with other data; start a new run in "
                   "another directory, or train anew in this one with --overwrite\n")
    assert every_file(run) == before
    err = fails(capsys, ["evaluate", str(run)])
    assert f"{run / 'config.json'}: the run's test split is recomputed from the CSV it was " \
           f"trained on, '{data}', whose content has changed since the run started" in err
    assert "evaluate on rows of your own (--csv)" in err
    assert main(["evaluate", str(run), "--csv", str(data)]) == 0  # rows given as one's own


def test_the_same_bytes_rewritten_or_a_run_saved_before_the_hash_resume(tmp_path, capsys):
    arguments, data, _ = a_regression_run(tmp_path)
    run = tmp_path / "run"
    copy = tmp_path / "new.csv"
    copy.write_bytes(data.read_bytes())
    os.replace(copy, data)  # another file at the path, with the same content
    assert main(arguments + ["--epochs", "3", "--resume"]) == 0
    assert main(["evaluate", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    del config["source"]["csv_sha256"]  # as a run saved before the hash was kept
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(run)]) == 0
    assert main(arguments + ["--epochs", "4", "--resume"]) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 4
    capsys.readouterr()


def test_resume_takes_a_run_whose_config_lacks_fields_a_newer_version_writes(tmp_path, capsys):
    # the data check compares what the saved config.json says, not the fields added since
    rows = "".join(f"{index % 7},{index % 5},{index % 7 + 2 * (index % 5) + index / 40:.3f}\n"
                   for index in range(40))
    (tmp_path / "reg.csv").write_text("a,b,y\n" + rows)
    arguments = ["train", "--csv", str(tmp_path / "reg.csv"), "--target", "y", "--model",
                 "linear", "--epochs", "2", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(arguments) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    del config["target_scaler"]["dtype"], config["encoder"]["missing"]
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    assert main(arguments + ["--resume"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("command", [["lm", "generate"], ["rl", "play"]])
def test_another_commands_reader_says_this_is_a_training_run(finished, capsys, command):
    run, _ = finished
    err = fails(capsys, [*command, str(run)])
    assert f"{run}: a training run, not a " in err
