"""The order local community tasks start in: the processes end together."""

from __future__ import annotations

import itertools
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from electlog.audit._oneshots import TAIL, OneShots, balanced_order, makespan
from electlog.audit._tasks import CommunityTask, _next_task, _task_order


def _no_swap_helps(loads: list[int], order: list[int], busy: list[int], processes: int) -> bool:
    """Whether no swap of two of the last TAIL jobs of ``order`` would end them sooner."""
    span = makespan(loads, order, busy, processes)
    cut = max(0, len(order) - TAIL)
    for i, j in itertools.combinations(range(cut, len(order)), 2):
        swapped = list(order)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        if makespan(loads, swapped, busy, processes) < span:
            return False
    return True


def test_makespan_runs_each_job_on_the_first_free_process() -> None:
    assert makespan([3, 3, 2, 2, 2], [0, 1, 2, 3, 4], [], 2) == 7
    assert makespan([3, 3, 2, 2, 2], [0, 2, 3, 1, 4], [], 2) == 6
    assert makespan([5, 1], [0, 1], [4], 2) == 5  # one process busy for 4 first
    assert makespan([5, 1], [0, 1], [4], 1) == 10
    assert makespan([], [], [7, 2], 2) == 7


def test_largest_first_is_improved_where_it_leaves_a_process_waiting() -> None:
    loads = [3, 3, 2, 2, 2]
    largest_first = sorted(range(5), key=lambda j: -loads[j])
    assert makespan(loads, largest_first, [], 2) == 7
    order = balanced_order(loads)
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert makespan(loads, order, [], 2) == 6


def test_the_seed_districts_tasks_end_within_one_small_task() -> None:
    # the entries of the 19 community tasks of the seed district (129,600 voters)
    sizes = [18924, 21421, 23778, 23186, 20721, 22560, 21954, 20412, 21744, 29282]
    sizes += [21976, 30163, 29302, 20015, 29856, 32698, 20680, 24025, 16726]
    largest_first = sorted(range(19), key=lambda j: -sizes[j])
    half = (sum(sizes) + 1) // 2
    assert makespan(sizes, largest_first, [], 2) - half > 8000  # a process waits
    assert makespan(sizes, balanced_order(sizes), [], 2) - half < 100


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=20),
    st.lists(st.integers(0, 60), max_size=2),
    st.integers(1, 3),
)
def test_never_later_than_largest_first_and_a_permutation(
    loads: list[int], busy: list[int], processes: int
) -> None:
    order = balanced_order(loads, busy, processes)
    assert sorted(order) == list(range(len(loads)))
    largest_first = sorted(range(len(loads)), key=lambda j: -loads[j])
    span = makespan(loads, order, busy, processes)
    assert span <= makespan(loads, largest_first, busy, processes)
    assert _no_swap_helps(loads, order, busy, processes)  # the search ran to its end


class _Stream:
    def __init__(self, written: int) -> None:
        self.done = written

    def written(self) -> int:
        return self.done


def _tasks(streams: list[_Stream | None]) -> list[CommunityTask]:
    return [
        CommunityTask("log.sqlite", "{}", True, len(streams), shard, None, stream=stream)  # type: ignore[arg-type]
        for shard, stream in enumerate(streams)
    ]


def test_the_running_tasks_progress_decides_the_next() -> None:
    sizes = [100, 50, 30, 30]
    # shard 0 runs with 70 entries of 100 left: the free process takes the 50, the two 30s
    # follow (the processes end at 100 and 110 otherwise)
    stream = _Stream(30)
    tasks = _tasks([stream, None, None, None])
    assert _task_order(tasks, sizes, [1, 2, 3], [0], 2) == [1, 2, 3]
    jobs = {0: 7, 1: 8, 2: 9, 3: 10}
    choose = _next_task(tasks, sizes, jobs, 2)
    assert choose([8, 9, 10], [7]) == 8
    # shard 0 has gone fast (10 left): a 30 starts, the 50 follows shard 0 (both end at 60;
    # the 50 first ends at 70)
    stream.done = 90
    assert _task_order(tasks, sizes, [1, 2, 3], [0], 2)[0] in (2, 3)
    assert choose([8, 9, 10], [7]) in (9, 10)
    assert (
        makespan(sizes[1:], [k - 1 for k in _task_order(tasks, sizes, [1, 2, 3], [0], 2)], [10], 2)
        == 60
    )
    # a queued job that is no task of these (the store's check): the queue's order
    assert choose([5, 8, 9], [7]) == 5


def _started(_: Any) -> int:
    return time.monotonic_ns()


def test_oneshots_starts_the_job_its_choice_names() -> None:
    forks = OneShots(1)
    try:
        seen: list[tuple[list[int], list[int]]] = []

        def last(queued: list[int], running: list[int]) -> int:
            seen.append((queued, running))
            return queued[-1]

        first = forks.submit(_started, None)  # a process is free: it starts at once
        forks.choose = last
        second = forks.submit(_started, None)
        third = forks.submit(_started, None)
        starts = {job: forks.result(job) for job in (first, second, third)}
    finally:
        forks.close()
    assert starts[first] < starts[third] < starts[second]
    assert seen[0] == ([second, third], [])


def test_many_tasks_reorder_only_the_last_ones() -> None:
    # a national election's thousands of communities: the search stays on the last TAIL
    # jobs (it is quadratic in the jobs it reorders), the first ones stay largest first
    loads = [1000 + (k * 7919) % 39000 for k in range(3000)]
    order = balanced_order(loads, [5000], 2)
    assert sorted(order) == list(range(3000))
    largest_first = sorted(range(3000), key=lambda j: -loads[j])
    assert order[: 3000 - TAIL] == largest_first[: 3000 - TAIL]
    assert makespan(loads, order, [5000], 2) <= makespan(loads, largest_first, [5000], 2)
    assert makespan(loads, order, [5000], 2) - (sum(loads) + 5000 + 1) // 2 <= 1000
