"""``DistributedDataParallel``: every rank holds the same model, sees its own shard of the batch,
and takes the same step, because the gradients are averaged over the ranks after backward.

With a global batch B cut into shards B_r, one per rank, and each rank's loss the mean over its
shard, the average over p ranks of equal shards is the gradient of the whole batch's mean loss:

    (1/p) Σ_r ∇θ (1/|B_r|) Σ_{i ∈ B_r} ℓᵢ  =  ∇θ (1/|B|) Σ_{i ∈ B} ℓᵢ      (|B_r| = |B|/p)

so the step is the course's SGD on B. (Unequal shards, as in an epoch's last batch, are made
exact by scaling each rank's loss by p·|B_r|/|B| before backward: see
``DistributedSampler.batches``.)

How the gradients travel: the parameters are grouped, last layer first (the order in which
backward reaches them), into buckets of contiguous memory of one dtype. A hook on each parameter
copies its gradient into its bucket the moment backward has it; a full bucket starts a
non-blocking ``Iallreduce`` at once, while backward goes on with the layers below, and buckets
start in the same order on every rank. When the last parameter's gradient arrives, every bucket
is waited for, divided by p and handed back as the parameters' ``.grad``. The hook runs before
the walk adds the gradient into ``.grad``, which is why the averaged values are written there
only then: each earlier parameter's ``.grad`` becomes its value before this backward plus the
average, and the last parameter's average is returned from its hook for the walk to add.

How much overlaps: MPICH advances a non-blocking collective only while some MPI call runs on this
rank (unless its asynchronous progress thread is enabled), so each hook also polls the buckets in
flight; on a machine where the ranks share the cores, compute and communication still take turns.
"""
from __future__ import annotations

import numpy

from .. import backend
from ..nn import Module
from ..tensor import Tensor, as_tensor
from . import world

# PyTorch's default bucket size is 25 MB; the course's models are small, so smaller buckets let
# the first reductions start while backward still has layers to go.
DEFAULT_BUCKET_MB = 1.0

# The averaging hook on each wrapped parameter, by id: at most one wrapper averages a parameter.
_averaging_hooks: dict = {}


class _Bucket:
    def __init__(self, parameters: list, dtype):
        self.parameters = parameters
        self.offsets = []
        size = 0
        for parameter in parameters:
            self.offsets.append(size)
            size += parameter.data.size
        self.buffer = numpy.empty(size, dtype=dtype)
        self.request = None

    def view(self, index: int) -> numpy.ndarray:
        parameter = self.parameters[index]
        start = self.offsets[index]
        return self.buffer[start:start + parameter.data.size].reshape(parameter.data.shape)


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward leaves every rank with the gradient averaged over ranks.

    ``ddp = DistributedDataParallel(model)`` copies rank 0's parameters and buffers to every rank;
    call ``ddp(inputs)`` as you would call ``model``; after ``loss.backward()`` each parameter's
    ``.grad`` holds the average over ranks, ready for ``optimizer.step()``. Every parameter that
    requires grad must receive a gradient in each backward (as with PyTorch's default
    ``find_unused_parameters=False``); the next forward, or ``check_last_backward()`` after the
    last step, says which did not. In a world of one process it changes nothing. After a
    forward in training mode, rank 0's buffers (BatchNorm's running statistics, updated from
    each rank's own shard) are broadcast to every rank. Wrapping the same parameters again (a
    second ``fit``) moves their hooks to the new wrapper. Gradients are averaged in
    ``backward``; ``autograd.grad`` on the parameters is not meant to be used under it (its
    hooks would fire there too).
    """

    def __init__(self, module: Module, bucket_cap_mb: float = DEFAULT_BUCKET_MB):
        super().__init__()
        self.module = module
        self._size = world.init()
        self._buckets: list[_Bucket] = []
        self._place: dict[int, tuple[int, int]] = {}   # id(parameter) -> (bucket, index)
        self._handles = []
        if self._size > 1:
            self._broadcast_state()
            self._build_buckets(bucket_cap_mb * 2 ** 20)
        self._reset()

    def forward(self, *args, **kwargs):
        self.check_last_backward()
        outputs = self.module(*args, **kwargs)
        if self._size > 1 and self.module.training:
            # A running statistic (BatchNorm's) follows this rank's shard: rank 0's, as
            # PyTorch's broadcast_buffers, keeps the replicas and their validation alike.
            self._broadcast(list(self.module.buffers()))
        return outputs

    # ------------------------------------------------------------ setup
    def _broadcast_state(self) -> None:
        """Rank 0's weights everywhere: the replicas start equal and so stay equal."""
        self._broadcast(list(self.module.parameters()) + list(self.module.buffers()))

    @staticmethod
    def _broadcast(tensors: list) -> None:
        for tensor in tensors:
            array = numpy.ascontiguousarray(backend.to_numpy(tensor.data))
            world.broadcast(array, root=0)
            tensor.data[...] = backend.xp.asarray(array)

    def _build_buckets(self, capacity_bytes: float) -> None:
        trained = [p for p in self.module.parameters() if p.requires_grad]
        groups, current, current_bytes = [], [], 0
        for parameter in reversed(trained):   # backward reaches the last layers first
            if current and (current_bytes + parameter.data.nbytes > capacity_bytes
                            or parameter.dtype != current[0].dtype):
                groups.append(current)
                current, current_bytes = [], 0
            current.append(parameter)
            current_bytes += parameter.data.nbytes
        if current:
            groups.append(current)
        for number, group in enumerate(groups):
            self._buckets.append(_Bucket(group, numpy.dtype(str(group[0].dtype))))
            for index, parameter in enumerate(group):
                self._place[id(parameter)] = (number, index)
                earlier = _averaging_hooks.pop(id(parameter), None)
                if earlier is not None:   # one average per backward, not one per wrapper
                    earlier.remove()
                handle = parameter.register_hook(self._make_hook(parameter))
                _averaging_hooks[id(parameter)] = handle
                self._handles.append(handle)

    def _reset(self) -> None:
        self._ready_count = 0
        self._filled = [0] * len(self._buckets)
        self._next_to_start = 0
        self._previous: dict[int, Tensor | None] = {}

    # ------------------------------------------------------------ during backward
    def _make_hook(self, parameter):
        def hook(gradient: Tensor):
            return self._gradient_ready(parameter, gradient)
        return hook

    def _gradient_ready(self, parameter, gradient: Tensor):
        number, index = self._place[id(parameter)]
        bucket = self._buckets[number]
        bucket.view(index)[...] = backend.to_numpy(gradient.data)
        self._previous[id(parameter)] = parameter.grad
        self._filled[number] += 1
        self._ready_count += 1
        self._start_full_buckets()
        if self._ready_count < len(self._place):
            return None
        return self._finish(parameter)

    def _start_full_buckets(self) -> None:
        """Start every full bucket whose predecessors have started: the same order on all ranks,
        whatever order this rank's backward filled them in."""
        for bucket in self._buckets[:self._next_to_start]:
            if bucket.request is not None and bucket.request.Test():
                bucket.request = None
        while (self._next_to_start < len(self._buckets)
               and self._filled[self._next_to_start] == len(self._buckets[self._next_to_start]
                                                             .parameters)):
            bucket = self._buckets[self._next_to_start]
            bucket.request = world.start_all_reduce(bucket.buffer)
            self._next_to_start += 1

    def _finish(self, last_parameter) -> Tensor:
        returned = None
        for number, bucket in enumerate(self._buckets):
            if bucket.request is not None:
                world.wait(bucket.request, f"gradient all-reduce (bucket {number})")
                bucket.request = None
            bucket.buffer /= self._size
            for index, parameter in enumerate(bucket.parameters):
                average = backend.xp.asarray(bucket.view(index).copy())
                if parameter is last_parameter:
                    returned = as_tensor(average)
                    continue
                before = self._previous[id(parameter)]
                parameter.grad = as_tensor(average if before is None else before.data + average)
        self._reset()
        return returned

    def check_last_backward(self) -> None:
        """Raise a DistributedError naming the parameters to which the last backward gave no
        gradient: no gradient was averaged then, and the step parted the ranks' weights. Each
        forward checks the backward before it; call it after the last step."""
        if self._ready_count:
            missing = [name for name, parameter in self.module.named_parameters()
                       if id(parameter) in self._place and id(parameter) not in self._previous]
            raise world.DistributedError(
                "DistributedDataParallel: the last backward gave no gradient to "
                f"{', '.join(missing)}; every parameter that requires grad must take part in the "
                "loss on every rank (freeze the others with requires_grad_(False) before wrapping)")

    # ------------------------------------------------------------
    def remove_hooks(self) -> None:
        """Stop averaging: the module trains on its own again."""
        for parameter_id in self._place:
            if _averaging_hooks.get(parameter_id) in self._handles:
                del _averaging_hooks[parameter_id]
        for handle in self._handles:
            handle.remove()
        self._handles = []

