"""Read ahead: fetch batch i+1 on a background thread while batch i is being computed."""

from __future__ import annotations

import queue
import threading

__all__ = ["prefetch"]

_DONE = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def prefetch(iterable, depth=1):
    """Iterate ``iterable`` on a background thread, keeping at most ``depth`` items ready.

    With ``depth=1`` at most two batches are in memory at once: the one being
    computed and the one read ahead. An exception raised while reading is
    re-raised here, in the consumer; closing the generator early (an error in
    the consumer, Ctrl-C) stops the reader cleanly.

    Examples
    --------
    >>> list(prefetch(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    items = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def reader():
        try:
            for item in iterable:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, who re-raises it
            put(_Failure(error))

    thread = threading.Thread(target=reader, name="suffstats-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
