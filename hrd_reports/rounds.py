"""The server's own work in worker threads (housekeeping, the intake guard's measure, the
notifications' sender), finished before the server lets go of its database.

Cancelling a task that awaits a thread does not stop the thread: a server stopping in the
middle of a round would close its database while the round still used it, and leave that
connection to be dropped unclosed. Each round is awaited to its end instead.
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_thread_to_the_end(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread; cancelled (the server stops), it still waits for the
    thread to finish before the cancellation goes on."""
    running = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        # Its own failure no longer matters to a server that stops; its end does.
        with contextlib.suppress(Exception):
            await running
        raise
