"""Blocking calls over asyncio for the feedback client: one event loop, and batches run in input order.

The loop lives as long as the client, because the async HTTP client is bound to
the loop it was first used on. Ctrl-C while the loop runs cancels what it waits
for and is raised as KeyboardInterrupt once the loop has stopped, never inside a
request; pending requests are cancelled and reaped rather than logged as
tracebacks at exit.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

R = TypeVar("R")


def _quiet_about_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task that Ctrl-C stopped is not an error to report; anything else is."""
    if isinstance(context.get("exception"), (KeyboardInterrupt, asyncio.CancelledError)):
        return
    loop.default_exception_handler(context)


class LoopRunner:
    """An event loop, made on first use, that blocking code runs coroutines on."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._loop.set_exception_handler(_quiet_about_interrupts)
        return self._loop

    def run(self, job: Coroutine[Any, Any, R]) -> R:
        return self._until_complete(job)

    def _until_complete(self, job: Awaitable[R]) -> R:
        """``run_until_complete``, with Ctrl-C cancelling ``job`` and raised here as KeyboardInterrupt.

        Python's own handler raises it inside whichever coroutine is running: inside the HTTP library's cancel
        scopes it became a RuntimeError of that one request, the interrupt was lost, and a Ctrl-C'd run went on
        to end in a traceback. As with ``asyncio.run``, a second Ctrl-C is raised at once.
        """
        loop = self._event_loop()
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or not callable(previous):
            return loop.run_until_complete(job)  # Ctrl-C is not raised here (ignored, as after a shell's &)
        task = asyncio.ensure_future(job, loop=loop)
        interrupted = False

        def on_interrupt(signum: int, frame: Any) -> None:
            nonlocal interrupted
            if interrupted:
                raise KeyboardInterrupt
            interrupted = True
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake the loop if it is waiting for the network

        signal.signal(signal.SIGINT, on_interrupt)
        try:
            result = loop.run_until_complete(task)
        except asyncio.CancelledError:
            if not interrupted:
                raise
        finally:
            signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt
        return result

    def in_order(
        self,
        job: Callable[..., Awaitable[R]],
        items: Sequence[tuple[Any, ...]],
        concurrency: int,
        on_progress: Callable[[], None] | None = None,
    ) -> Iterator[R]:
        """``job(*item)`` for every item, ``concurrency`` at a time, yielded in
        input order, each as soon as it and every one before it are final."""
        loop = self._event_loop()
        gate = asyncio.Semaphore(concurrency)

        async def one(item: tuple[Any, ...]) -> R:
            async with gate:
                result = await job(*item)
            if on_progress:
                on_progress()
            return result

        tasks = [loop.create_task(one(item)) for item in items]
        try:
            for task in tasks:
                yield self._until_complete(task)
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending and not loop.is_closed():
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            # A Ctrl-C can land inside a task: reap it, or asyncio logs it as a traceback at exit.
            for task in tasks:
                if task.done() and not task.cancelled():
                    task.exception()

    def close(self, last: Callable[[], Awaitable[None]]) -> None:
        """End what is still pending, then run ``last`` (closing the HTTP client) and close the loop."""
        if self._loop is not None:
            self._loop.run_until_complete(_cancel_pending_then(last))
            self._loop.close()
            self._loop = None


async def _cancel_pending_then(last: Callable[[], Awaitable[None]]) -> None:
    # After Ctrl-C a batch's requests are still pending: end them first.
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await last()
