"""When the daemon checks each source: pure functions of its schedule, and the triggers.

A source is checked every `interval`, or on its `cron` (UTC). After a start
or a reload, a source is next due from its last check in the database
(`due_at`); an overdue or new one starts within half a minute, each at its own
stable offset (`startup_delay`); later checks wander by a bounded jitter that
does not accumulate (`SpreadIntervalTrigger`). No clock is read here: `now`
and the last check are given.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from watcher.config import SourceConfig

STARTUP_MIN_S = 1.0  # overdue and new sources start this long after start at the earliest...
STARTUP_SPREAD_S = 30.0  # ...spread over at most this long, each at its own stable offset
JITTER_SHARE = 0.05  # later checks wander by up to this share of the period...
MAX_JITTER_S = 300.0  # ...but never by more than this

# A fixed reference time: the period of a cron expression is measured from it,
# so the schedule functions stay pure.
_REFERENCE = datetime(2026, 1, 5, tzinfo=UTC)


def stable_fraction(source_id: str) -> float:
    """A number in [0, 1) that depends only on the source id."""
    digest = hashlib.sha256(source_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _cron(expression: str) -> Any:
    return CronTrigger.from_crontab(expression, timezone="UTC")


def period(source: SourceConfig) -> float:
    """Seconds between two checks of `source` (for a cron, the first gap after a fixed date)."""
    if source.cron is None:
        return float(source.interval or 0.0)
    trigger = _cron(source.cron)
    first = trigger.get_next_fire_time(None, _REFERENCE)
    second = trigger.get_next_fire_time(first, first)
    return float((second - first).total_seconds())


def jitter(source: SourceConfig) -> float:
    """The most a scheduled check of `source` may come after its nominal time."""
    return min(period(source) * JITTER_SHARE, MAX_JITTER_S)


def startup_delay(source: SourceConfig) -> float:
    """How long after start an overdue or new source is first checked.

    Stable per source, so a restart does not reshuffle, and spread so that
    fifteen overdue sources do not all fire in the same second.
    """
    spread = min(STARTUP_SPREAD_S, period(source) / 2)
    return STARTUP_MIN_S + stable_fraction(source.id) * spread


def due_at(source: SourceConfig, last_checked: datetime | None) -> datetime | None:
    """When `source` is next due by its schedule alone; None when never checked."""
    if last_checked is None:
        return None
    if source.cron is not None:
        fire: datetime = _cron(source.cron).get_next_fire_time(
            None, last_checked + timedelta(microseconds=1)
        )
        return fire
    return last_checked + timedelta(seconds=source.interval or 0.0)


def first_run(source: SourceConfig, last_checked: datetime | None, now: datetime) -> datetime:
    """When the daemon, starting (or reloading) at `now`, first checks `source`."""
    due = due_at(source, last_checked)
    if due is not None and due > now:
        return due
    return now + timedelta(seconds=startup_delay(source))


class SpreadIntervalTrigger(IntervalTrigger):
    """An interval trigger whose jitter does not accumulate.

    APScheduler 3 adds each jitter to the previous (jittered) fire time, so
    the schedule drifts later by half the jitter per run; this one fires at
    `start + k × interval + random(0, jitter)`.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return super().get_next_fire_time(previous_fire_time, now)
        start = self.start_date.timestamp()
        slot = math.floor((previous_fire_time.timestamp() - start) / self.interval_length + 1e-9)
        base = start + (slot + 1) * self.interval_length
        extra = random.uniform(0, self.jitter) if self.jitter else 0.0
        return datetime.fromtimestamp(base + extra, tz=UTC)


def make_trigger(source: SourceConfig, start: datetime) -> Any:
    """The APScheduler trigger of `source`, first firing at `start`."""
    if source.cron is not None:
        trigger = _cron(source.cron)
        trigger.jitter = jitter(source)
        return trigger
    return SpreadIntervalTrigger(
        seconds=source.interval, start_date=start, timezone=UTC, jitter=jitter(source)
    )


def describe_schedule(source: SourceConfig) -> str:
    if source.cron is not None:
        return f"cron {source.cron}"
    return f"every {format_duration(source.interval or 0.0)}"


def format_duration(seconds: float) -> str:
    """90 → '1m30s', 21600 → '6h', 2 → '2s'."""
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"
