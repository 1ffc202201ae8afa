"""The bound on Argon2 computations at once: memory stays bounded under a flood of sign-ins,
and waiting for a slot never stops the server from answering anyone else."""

import asyncio

from hrd_reports.web.auth import Argon2Slots
from tests.helpers import run_coroutine as run


async def _sign_in(slots: Argon2Slots, computing: list[int], peak: list[int]) -> bool:
    async with slots.held() as slot:
        if not slot:
            return False
        computing[0] += 1
        peak[0] = max(peak[0], computing[0])
        await asyncio.sleep(0.01)  # the Argon2 computation, in a worker thread
        computing[0] -= 1
        return True


def test_a_burst_of_sign_ins_all_get_a_slot_never_more_than_the_bound_at_once() -> None:
    async def burst() -> tuple[list[bool], int]:
        slots, computing, peak = Argon2Slots(2), [0], [0]
        answers = await asyncio.gather(*(_sign_in(slots, computing, peak) for _ in range(50)))
        return answers, peak[0]

    answers, peak = run(burst())

    assert answers == [True] * 50
    assert peak == 2


def test_waiting_for_a_slot_leaves_the_server_free_to_answer_others() -> None:
    async def flood_and_probe() -> tuple[int, list[bool]]:
        slots = Argon2Slots(1)
        release = asyncio.Event()
        answered = 0

        async def holder() -> bool:
            async with slots.held() as slot:
                await release.wait()
                return slot

        waiting = [asyncio.create_task(holder()) for _ in range(50)]
        # While fifty wait, the loop (which serves every other request) still runs.
        for _ in range(10):
            await asyncio.sleep(0)
            answered += 1
        release.set()
        return answered, await asyncio.gather(*waiting)

    answered, answers = run(flood_and_probe())

    assert answered == 10
    assert answers == [True] * 50


def test_beyond_the_waiting_room_a_sign_in_is_told_at_once_the_server_is_busy() -> None:
    async def overflow() -> list[bool]:
        slots, release = Argon2Slots(1, max_waiting=3), asyncio.Event()

        async def one() -> bool:
            async with slots.held() as slot:
                if slot:
                    await release.wait()
                return slot

        tasks = [asyncio.create_task(one()) for _ in range(6)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*tasks)

    # One computes, three wait, two are turned away.
    assert sorted(run(overflow())) == [False, False, True, True, True, True]


def test_a_sign_in_that_waits_too_long_is_told_the_server_is_busy() -> None:
    async def stuck() -> bool:
        slots, release = Argon2Slots(1, wait_seconds=0.05), asyncio.Event()

        async def hold() -> None:
            async with slots.held():
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        async with slots.held() as slot:
            late = slot
        release.set()
        await holder
        return late

    assert run(stuck()) is False
