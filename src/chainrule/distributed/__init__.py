"""Data-parallel training over MPI: one model per process, a shard of each batch per process,
gradients averaged over processes so that every replica takes the course's SGD step.

    mpiexec -n 4 chainrule train mnist --batch-size 256      # the same model as with -n 1

``init`` joins the world the launcher started (a world of one process without a launcher: no MPI
needed); ``DistributedDataParallel`` averages gradients during backward; ``DistributedSampler``
gives each rank its rows of each global batch. mpi4py is imported only here, and only when a
launcher started more than one process. docs/distributed.md has the whole story.
"""
from .parallel import DistributedDataParallel
from .sampler import DistributedSampler, shard_of_batch
from .world import (DistributedError, abort, all_reduce, average, barrier, broadcast,
                    broadcast_object, end_job, get_rank, get_world_size, init,
                    is_main_process)

__all__ = ["init", "get_rank", "get_world_size", "is_main_process", "barrier", "all_reduce",
           "average", "broadcast", "broadcast_object", "abort", "end_job",
           "DistributedDataParallel", "DistributedSampler", "shard_of_batch", "DistributedError"]
