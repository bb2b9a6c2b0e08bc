"""A per-process coalescing publisher for the webhook path: enqueue ids in microseconds.

Publishing one Celery task costs a few milliseconds (kombu builds a Redis client, reads the
exchange's bindings and pushes, per message), which was a third of a WhatsApp webhook's time. The
webhook stores its body first and answers 200; the id only has to reach a worker soon. So ids are
appended to an in-process buffer and a background thread publishes them as one task per
``window`` seconds (one Redis round trip for a whole burst).

What a crash can lose is the buffer (a few milliseconds of ids whose rows are already stored):
``inbound_sweep`` (beat) processes stored rows nobody processed, as it does for a broker outage.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class CoalescingPublisher:
    def __init__(self, publish: Callable[[list[int]], None], *, window: float = 0.01, max_batch: int = 200):
        self._publish, self._window, self._max = publish, window, max_batch
        self._ids: list[int] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None

    def add(self, item: int) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (or after a fork): start the thread
                self._pid = os.getpid()
                self._ids = []
                threading.Thread(target=self._run, name="coalescing-publisher", daemon=True).start()
                atexit.register(self.flush)
            self._ids.append(item)
        self._wake.set()

    def flush(self) -> int:
        with self._lock:
            ids, self._ids = self._ids, []
        for start in range(0, len(ids), self._max):
            chunk = ids[start:start + self._max]
            try:
                self._publish(chunk)
            except Exception:  # noqa: BLE001 (broker down: the stored rows are swept later)
                log.warning("could not enqueue %d stored inbound bodies; the sweep will process them", len(chunk),
                            exc_info=True)
        return len(ids)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            self._wake.wait(self._window)  # let the burst gather
            self._wake.clear()
            self.flush()
