"""Data-parallel training with Paddle's collective engine.

Launch (one process per GPU; on a CPU machine the processes talk over gloo)::

    python -m paddle.distributed.launch --nproc_per_node 2 tools/main.py -c CONFIG
    python -m paddle.distributed.launch --ips host1,host2 --nproc_per_node 8 tools/main.py -c CONFIG

Every process builds the same nets from the same seed, wraps the trainable ones in
``paddle.DataParallel`` (gradients are averaged across processes in each backward pass), and
trains on its own shard of every epoch. ``train.batch_size`` is per process: the effective batch
is ``batch_size x world size``. Process 0 alone writes checkpoints, visuals, pages and logs.
"""
import os

import numpy as np
import paddle

from ..utils.env import logger


def world_size():
    """Number of processes of the launched job (1 when not launched)."""
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def rank():
    return int(os.environ.get("PADDLE_TRAINER_ID", "0"))


def is_main():
    return rank() == 0


_initialised = False


def init():
    """Join the process group when launched with several processes; no-op otherwise."""
    global _initialised
    if world_size() > 1 and not _initialised:
        import paddle.distributed as dist

        dist.init_parallel_env()
        _initialised = True
    return world_size() > 1


def wrap_trainable_nets(model, find_unused_parameters=True):
    """Wrap every net an optimizer updates in ``paddle.DataParallel``, in ``model.nets``.

    ``find_unused_parameters``: GAN steps run the discriminators with frozen parameters in the
    generator step and several backward passes per step (U-GAT-IT), which the reducer only
    accepts in this mode. Nets no optimizer updates (an inference-only face-ID net) stay as they are.
    """
    trained = {id(p) for opt in model.optimizers.values() for p in opt._parameter_list}
    wrapped = []
    for name, net in list(model.nets.items()):
        if isinstance(net, paddle.DataParallel):
            continue
        if any(id(p) in trained for p in net.parameters()):
            model.nets[name] = paddle.DataParallel(net, find_unused_parameters=find_unused_parameters)
            wrapped.append(name)
    return wrapped


def convert_sync_batchnorm(model):
    """Replace BatchNorm by SyncBatchNorm in every net (statistics over the whole global batch;
    Paddle implements it for GPUs). Call before the optimizers are built."""
    for name, net in list(model.nets.items()):
        model.nets[name] = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(net)


def all_gather_objects(obj):
    """``[obj of rank 0, obj of rank 1, ...]`` (just ``[obj]`` in a single process)."""
    if world_size() == 1:
        return [obj]
    import paddle.distributed as dist

    out = []
    dist.all_gather_object(out, obj)
    return out


def barrier():
    if world_size() > 1:
        import paddle.distributed as dist

        dist.barrier()


def shard_order(order, batch_size):
    """This process's batches of one epoch: consecutive global batches of ``batch_size x world``
    images, of which this rank takes its slice. The last global batch may be short (the ranks
    then get fewer or no images; every rank must still see the same number of batches)."""
    world, me = world_size(), rank()
    step = batch_size * world
    batches = []
    for i in range(0, len(order), step):
        chunk = order[i:i + step]
        mine = chunk[me * batch_size:(me + 1) * batch_size]
        if len(mine) == 0:  # every rank must run the same number of steps: reuse the chunk's first
            mine = chunk[:1]
        batches.append(np.asarray(mine).tolist())
    return batches


def log_setup(batch_size, lr, wrapped):
    """The start-of-run line of a data-parallel job: processes, effective batch, learning rate."""
    world = world_size()
    logger.info("data parallel over %d processes (rank %d): batch %d per process, effective batch %d; "
                "learning rate %g as configured (not scaled: multiply it yourself if you scale the "
                "batch, e.g. lr x %d for the linear scaling rule); DataParallel nets: %s",
                world, rank(), batch_size, batch_size * world, lr, world, ", ".join(wrapped))
