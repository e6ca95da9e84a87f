"""The pieces of multi-process training that need no processes: world, global batch sampler."""

from __future__ import annotations

from itertools import islice

import pytest

from colorizer.train.distributed import GlobalBatchSampler, World, world_from_env


def test_without_torchrun_the_world_is_one_process() -> None:
    assert world_from_env({}) == World(0, 1, 0)
    assert world_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    with pytest.raises(ValueError, match="RANK"):
        world_from_env({"RANK": "4", "WORLD_SIZE": "4"})


def test_the_ranks_split_each_global_batch_of_the_counter_stream() -> None:
    # Global batch k is samples 10+4k .. 10+4k+3 whatever the number of processes.
    one = list(islice(GlobalBatchSampler(10, 4, World()), 8))
    assert one == list(range(10, 18))
    rank0 = list(islice(GlobalBatchSampler(10, 4, World(0, 2)), 4))
    rank1 = list(islice(GlobalBatchSampler(10, 4, World(1, 2)), 4))
    assert (rank0, rank1) == ([10, 11, 14, 15], [12, 13, 16, 17])
    with pytest.raises(ValueError, match="multiple"):
        GlobalBatchSampler(0, 5, World(0, 2))
