"""What tests/distributed/test_mpi.py runs under ``mpiexec -n N`` (its functions also run in the
test's own process, a world of one):

    python mpi_worker.py OUT_DIR TASK [TASK ...]

Tasks: ``mlp64`` and ``mlp62`` (one epoch of ``fit`` on an MNIST-sized MLP, global batch 64 or
62), ``resume`` (a second epoch of mlp64 from the checkpoint in OUT_DIR/checkpoint), ``gpt-sgd``
(50 steps of a tiny GPT, float32, SGD with momentum), ``gpt-adamw-float64`` (the same with AdamW
in float64), ``rl`` (six REINFORCE episodes; every rank writes its policy), ``first-loss``
(an epoch of a small MLP, checkpointed in OUT_DIR/first-loss), ``batchnorm`` (fit of an MLP
with BatchNorm; every rank writes its weights, running statistics and validation losses),
``history-types`` (a small fit; every rank writes the types of its history's values),
``lm-windows`` (four steps of ``lm.train`` with dropout; every rank writes the windows it drew),
``lm-checks`` (three steps of ``lm.train``; every rank writes what its divergence checks judged),
``die`` and ``raise`` and ``stall`` (mlp64, but in its fifth step rank 1 is killed, raises, or
sleeps a minute), ``stall-object`` (rank 0 waits for an object that rank 1 sends after a
minute), ``unused`` (a layer that never reaches the loss), ``unused-last`` (the same
in a fit of one step, checkpointed in OUT_DIR/unused-last-checkpoint). Rank 0 writes each task's final weights to OUT_DIR/TASK.npz. The data
is random and made here, from fixed seeds.
"""
import os
import signal
import sys
import time

import numpy

import chainrule
from chainrule import distributed, nn, optim
from chainrule.models.gpt import GPT, GPTConfig
from chainrule.nn import functional as F
from chainrule.training import accuracy, fit


def weights(model) -> dict:
    return {name: value.data.copy() for name, value in model.state_dict().items()}


def mnist_sized_mlp(batch_size: int, fault: str | None = None, epochs: int = 1,
                    checkpoint_dir=None) -> dict:
    rng = numpy.random.default_rng(0)
    inputs = rng.random((2048, 784), dtype=numpy.float32)
    labels = (inputs[:, :10].argmax(axis=1) + (inputs[:, 10] > 0.5)) % 10
    chainrule.manual_seed(distributed.get_rank() + 1)   # rank 0's weights must win the broadcast
    model = nn.MLP([784, 64, 32, 10])
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    steps = []

    def loss(outputs, targets):
        steps.append(1)
        if fault is not None and len(steps) == 5 and distributed.get_rank() == 1:
            if fault == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            if fault == "stall":
                time.sleep(60)
            raise RuntimeError("a failure in rank 1's fifth step")
        return F.cross_entropy(outputs, targets)

    fit(model, loss, optimizer, (inputs, labels), epochs=epochs, batch_size=batch_size, seed=3,
        progress=False, checkpoint_dir=checkpoint_dir, resume=checkpoint_dir is not None)
    return weights(model)


def tiny_gpt(optimizer_name: str, dtype: str) -> dict:
    previous = chainrule.get_default_dtype()
    chainrule.set_default_dtype(dtype)
    try:
        config = GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16)
        tokens = numpy.random.default_rng(1).integers(0, config.vocab_size, size=(96, 9))
        chainrule.manual_seed(distributed.get_rank() + 1)
        model = GPT(config)
        # Small buckets, so that several reductions are in flight during one backward.
        parallel = distributed.DistributedDataParallel(model, bucket_cap_mb=0.004)
        if optimizer_name == "adamw":
            optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
        else:
            optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sampler = distributed.DistributedSampler(len(tokens), seed=5)
        steps, epoch = 0, 0
        while steps < 50:
            sampler.set_epoch(epoch)
            for rows, weight in sampler.batches(16):
                if steps < 50:
                    _, loss = parallel(chainrule.tensor(tokens[rows, :-1]),
                                       chainrule.tensor(tokens[rows, 1:]))
                    optimizer.zero_grad()
                    (loss * weight).backward()
                    optimizer.step()
                    steps += 1
            epoch += 1
        return weights(model)
    finally:
        chainrule.set_default_dtype(previous)


def reinforce_on_every_rank(out_dir: str) -> dict:
    """Six episodes of REINFORCE on CartPole; every rank writes its policy to rl-rank<r>.npz."""
    from chainrule import rl

    result = rl.train(rl.ReinforceConfig(hidden=16), episodes=6, stop_when_solved=False)
    numpy.savez(os.path.join(out_dir, f"rl-rank{distributed.get_rank()}.npz"),
                **weights(result.agent.policy))
    return {"returns": numpy.array(result.returns)}


def small_checkpointed_fit(checkpoint_dir) -> dict:
    """An epoch of a small MLP in batches of 7 (shards of 4 and 3), checkpointed."""
    rng = numpy.random.default_rng(0)
    inputs = rng.normal(size=(103, 5)).astype(numpy.float32)
    labels = (inputs[:, 0] > 0).astype(numpy.int64)
    chainrule.manual_seed(1)
    model = nn.MLP([5, 8, 2])
    fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), (inputs, labels),
        epochs=1, batch_size=7, seed=1, progress=False, checkpoint_dir=checkpoint_dir)
    return weights(model)


def history_types(out_dir: str) -> dict:
    """Two epochs of fit of a small MLP with a validation set and a metric; every rank writes
    the type of each value of its history's records to history-types-rank<r>.npy."""
    rng = numpy.random.default_rng(0)
    inputs = rng.normal(size=(60, 5)).astype(numpy.float32)
    labels = (inputs[:, 0] > 0).astype(numpy.int64)
    chainrule.manual_seed(1)
    model = nn.MLP([5, 8, 2])
    history = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1),
                  (inputs[:40], labels[:40]), (inputs[40:], labels[40:]), epochs=2, batch_size=8,
                  metrics={"accuracy": accuracy}, progress=False)
    types = numpy.array([f"{key}: {type(value).__name__}" for record in history.records
                         for key, value in record.items()])
    numpy.save(os.path.join(out_dir, f"history-types-rank{distributed.get_rank()}.npy"), types)
    return {"types": types}


def batch_norm_on_every_rank(out_dir: str) -> dict:
    """Three epochs of fit of an MLP with BatchNorm, with a validation set; every rank writes
    its weights and running statistics, and its validation losses, to batchnorm-rank<r>.npz."""
    rng = numpy.random.default_rng(0)
    inputs = rng.normal(size=(203, 5)).astype(numpy.float32)
    labels = (inputs[:, 0] > 0).astype(numpy.int64)
    chainrule.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    history = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1),
                  (inputs[:150], labels[:150]), (inputs[150:], labels[150:]), epochs=3,
                  batch_size=20, seed=1, progress=False, restore_best=False)
    result = {**weights(model), "val_loss": numpy.array([r["val_loss"] for r in history.records])}
    numpy.savez(os.path.join(out_dir, f"batchnorm-rank{distributed.get_rank()}.npz"), **result)
    return result


def words_file(out_dir: str) -> str:
    """A text of 2000 random words, written by rank 0 into ``out_dir``, for ``lm.train``."""
    text = os.path.join(out_dir, "text.txt")
    if distributed.is_main_process():
        words = numpy.random.default_rng(0).choice(["the", "cat", "sat", "on", "a", "mat"], 2000)
        with open(text, "w") as file:
            file.write(" ".join(words))
    distributed.barrier()
    return text


def lm_windows_with_dropout(out_dir: str) -> dict:
    """Four steps of ``lm.train`` with dropout, 3 windows per step (shards of 2 and 1); every
    rank writes the windows it drew for each step to lm-windows-rank<r>.npy."""
    from chainrule import lm

    drawn, draw = [], lm.get_batch

    def recording_draw(*arguments):
        inputs, targets = draw(*arguments)
        drawn.append(numpy.array(inputs))
        return inputs, targets

    text = words_file(out_dir)
    lm.get_batch = recording_draw
    try:
        lm.train(text, os.path.join(out_dir, "lm-run"), max_iters=4, batch_size=3, block_size=16,
                 n_layer=1, n_head=2, n_embd=16, dropout=0.2, eval_interval=10, eval_iters=1,
                 final_eval_iters=1, progress=False)
    finally:
        lm.get_batch = draw
    windows = numpy.stack(drawn)
    numpy.save(os.path.join(out_dir, f"lm-windows-rank{distributed.get_rank()}.npy"), windows)
    return {"windows": windows}


def lm_divergence_checks(out_dir: str) -> dict:
    """Three steps of ``lm.train``, 3 windows per step (shards of 2 and 1); every rank writes
    the loss and gradient norm each step's divergence check judged to lm-checks-rank<r>.npy."""
    from chainrule import lm
    from chainrule.divergence import DivergenceGuard

    judged, check = [], DivergenceGuard.check

    def recording_check(guard, loss, where, gradient_norm=None):
        if gradient_norm is not None:  # a step's check (an evaluation's has no gradient norm)
            judged.append((loss, gradient_norm))
        return check(guard, loss, where, gradient_norm)

    text = words_file(out_dir)
    DivergenceGuard.check = recording_check
    try:
        lm.train(text, os.path.join(out_dir, "lm-checks-run"), max_iters=3, batch_size=3,
                 block_size=16, n_layer=1, n_head=2, n_embd=16, eval_interval=10, eval_iters=1,
                 final_eval_iters=1, progress=False)
    finally:
        DivergenceGuard.check = check
    numpy.save(os.path.join(out_dir, f"lm-checks-rank{distributed.get_rank()}.npy"), judged)
    return {"judged": numpy.array(judged)}


def unused_parameter() -> dict:
    """A model whose second layer never reaches the loss: the second forward must say so."""
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2))
    parallel = distributed.DistributedDataParallel(model)
    inputs = chainrule.randn(4, 3)
    for _ in range(2):
        parallel.module[0](inputs).sum().backward()
        parallel(inputs)
    return weights(model)


def unused_parameter_in_the_last_step(checkpoint_dir: str) -> dict:
    """One step of ``fit`` (8 rows, batch 8), checkpointed in ``checkpoint_dir``, of a model
    whose second layer never reaches the loss: no forward comes after that step's backward to
    say so."""
    class HalfUsed(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, inputs):
            return self.used(inputs)

    rng = numpy.random.default_rng(0)
    inputs = rng.normal(size=(8, 3)).astype(numpy.float32)
    targets = rng.normal(size=(8, 2)).astype(numpy.float32)
    model = HalfUsed()
    fit(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1), (inputs, targets), epochs=1,
        batch_size=8, progress=False, checkpoint_dir=checkpoint_dir)
    return weights(model)


def object_from_a_stalled_root() -> dict:
    """Rank 0 waits for a value that rank 1 sends only after a minute."""
    if distributed.get_rank() == 1:
        time.sleep(60)
    return {"value": numpy.array(distributed.broadcast_object(distributed.get_rank(), root=1))}


TASKS = {
    "mlp64": lambda: mnist_sized_mlp(64),
    "mlp62": lambda: mnist_sized_mlp(62),
    "gpt-sgd": lambda: tiny_gpt("sgd", "float32"),
    "gpt-adamw-float64": lambda: tiny_gpt("adamw", "float64"),
    # the second epoch, resuming the checkpoint OUT_DIR/checkpoint of the first
    "resume": lambda: mnist_sized_mlp(64, epochs=2,
                                      checkpoint_dir=os.path.join(sys.argv[1], "checkpoint")),
    "rl": lambda: reinforce_on_every_rank(sys.argv[1]),
    "batchnorm": lambda: batch_norm_on_every_rank(sys.argv[1]),
    "history-types": lambda: history_types(sys.argv[1]),
    "lm-windows": lambda: lm_windows_with_dropout(sys.argv[1]),
    "lm-checks": lambda: lm_divergence_checks(sys.argv[1]),
    "first-loss": lambda: small_checkpointed_fit(os.path.join(sys.argv[1], "first-loss")),
    "die": lambda: mnist_sized_mlp(64, fault="die"),
    "raise": lambda: mnist_sized_mlp(64, fault="raise"),
    "stall": lambda: mnist_sized_mlp(64, fault="stall"),
    "stall-object": object_from_a_stalled_root,
    "unused": unused_parameter,
    "unused-last": lambda: unused_parameter_in_the_last_step(
        os.path.join(sys.argv[1], "unused-last-checkpoint")),
}

if __name__ == "__main__":
    out_dir = sys.argv[1]
    if distributed.is_main_process():
        with open(os.path.join(out_dir, "processes.txt"), "w") as table:
            table.writelines(f"{rank} {host} {pid}\n"
                             for rank, host, pid in distributed.world.processes())
    for task in sys.argv[2:]:
        result = TASKS[task]()
        if distributed.is_main_process():
            numpy.savez(os.path.join(out_dir, f"{task}.npz"), **result)
