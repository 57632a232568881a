"""Without a launcher a process is a world of one: no MPI needed, nothing changes."""
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import chainrule
from chainrule import distributed, nn
from chainrule.distributed import DistributedSampler


def test_a_plain_process_is_rank_zero_of_one_without_loading_mpi():
    code = ("import sys, chainrule.distributed as d; "
            "print(d.init(), d.get_rank(), d.is_main_process(), 'mpi4py' in sys.modules)")
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PMI", "OMPI_", "PMIX"))}
    environment["PYTHONPATH"] = str(Path(chainrule.__file__).parents[1])
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=environment, timeout=60)
    assert run.stdout.split() == ["1", "0", "True", "False"], run.stderr


def test_a_launched_process_without_mpi4py_is_told_how_to_install_it():
    code = ("import sys; sys.modules['mpi4py'] = None; import chainrule.distributed as d; "
            "d.init()")
    environment = {**os.environ, "PMI_RANK": "0", "PMI_SIZE": "2",
                   "PYTHONPATH": str(Path(chainrule.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=environment, timeout=60)
    assert run.returncode != 0
    assert "pip install 'chainrule[mpi]'" in run.stderr


def test_collectives_in_a_world_of_one_return_the_array_unchanged():
    values = numpy.arange(4.0)
    assert distributed.all_reduce(values) is values and values.tolist() == [0, 1, 2, 3]
    assert distributed.broadcast(values).tolist() == [0, 1, 2, 3]
    distributed.barrier()


def test_ddp_in_a_world_of_one_leaves_the_gradients_alone():
    chainrule.manual_seed(0)
    model = nn.Linear(3, 2)
    parallel = distributed.DistributedDataParallel(model)
    inputs = chainrule.randn(5, 3)
    parallel(inputs).sum().backward()
    expected = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    model(inputs).sum().backward()
    for parameter, gradient in zip(model.parameters(), expected):
        numpy.testing.assert_array_equal(parameter.grad.data, gradient)


@pytest.mark.parametrize("rows, batch_size, processes", [(10, 4, 3), (2048, 62, 4), (7, 8, 2)])
def test_the_shards_of_each_batch_are_the_global_batch_with_weights_that_average_to_one(
        rows, batch_size, processes):
    samplers = [DistributedSampler(rows, num_replicas=processes, rank=rank, seed=3)
                for rank in range(processes)]
    order = numpy.random.default_rng((3, 0)).permutation(rows)   # what fit shuffles with
    per_rank = [list(sampler.batches(batch_size)) for sampler in samplers]
    for step, start in enumerate(range(0, rows, batch_size)):
        shares = [per_rank[rank][step] for rank in range(processes)]
        taken = numpy.concatenate([share for share, weight in shares if weight > 0])
        assert sorted(taken) == sorted(order[start:start + batch_size])
        weights = [weight for _, weight in shares]
        # the mean over ranks of weight · (shard mean) is the batch mean when the weights are
        # p · |shard| / |batch|: they add up to p
        assert sum(weights) == pytest.approx(processes)


def test_the_sampler_changes_order_with_the_epoch_and_refuses_a_rank_outside_the_world():
    sampler = DistributedSampler(100, num_replicas=2, rank=1, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and len(first) == len(sampler) == 50
    with pytest.raises(ValueError, match="rank 2 is not in 0 … 1"):
        DistributedSampler(100, num_replicas=2, rank=2)
