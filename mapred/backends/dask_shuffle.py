"""The Dask backend's shuffle, the driver's side: map output cut by partition where it is.

A map task's result (its batches for every partition) stays whole on the worker that
ran it. Once every map task is in, :func:`cut_by_partition` submits, for each worker
holding map results, one ``mapred-group`` task that cuts them all by partition, and on the
same worker one ``mapred-pick`` task per partition that keeps that partition alone. A
reduce task depends on its pick of every group: it receives its own partition and
nothing more, and the scheduler runs W groups and W x R picks for W workers and R
partitions, not a task per map task and partition. See docs/distributed.md, *Scheduling
at scale*, for the figures and the designs not chosen.
"""

from __future__ import annotations

from typing import Any

from mapred.backends.dask_tasks import group_partitions, pick_partition


def cut_by_partition(
    client: Any, job_id: str | None, outputs: list[Any], partitions: int
) -> list[list[Any]]:
    """Group and pick the map results ``outputs`` (futures, in map order) where they are.

    Returns the pick futures, per group, per partition. Groups and picks are pinned to
    the worker that holds the group's map results (``allow_other_workers``: should it be
    gone, anywhere): left to itself, Dask would move a whole group to wherever it runs a
    pick. The caller may let go of the map results and keep only the picks: they hold
    the same batches, and Dask still knows how to make them again if a pick dies with
    its worker.
    """
    holders: dict[str, list[int]] = {}
    who_has = client.who_has(outputs) if outputs else {}
    for index, output in enumerate(outputs):
        addresses = sorted(who_has.get(output.key, ()))
        holders.setdefault(addresses[0] if addresses else "", []).append(index)
    picks: list[list[Any]] = []
    for n, (address, indices) in enumerate(sorted(holders.items())):
        where: dict[str, Any] = {"pure": False}
        if address:  # "": results lost just now, which Dask is making again somewhere
            where.update(workers=[address], allow_other_workers=True)
        name = f"{job_id}-{n}"
        group = client.submit(
            group_partitions,
            indices,
            *[outputs[index] for index in indices],
            key=f"mapred-group-{name}",
            **where,
        )
        picks.append(
            client.map(
                pick_partition,
                [group] * partitions,
                range(partitions),
                key=[f"mapred-pick-{name}-{p}" for p in range(partitions)],
                **where,
            )
        )
    return picks
