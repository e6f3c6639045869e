"""When a cron expression fires, in a time zone, with Airflow 2's rules at daylight-saving changes.

A cron is read on the local wall clock and each fire time is returned as a UTC instant, as
Airflow's ``CronMixin`` does:

- A cron with a fixed time of day (its next two fire times share hour and minute, e.g. ``0 2 * * *``
  or ``@weekly``) fires at that local time, 23 or 25 hours apart across a change. A local time that
  does not exist (02:30 on the spring day in Europe) fires as if the old offset still held
  (02:30 CET, which is 03:30 CEST); a time that exists twice (01:30 on the autumn day in New York) fires on its
  second occurrence, after the clocks went back.
  (Where Airflow's arithmetic, just after a spring gap, gives a fire time as the one before itself,
  the one before is taken: a start date at the skipped time is not passed over and a manual run
  right after the jump covers a whole day, not an empty interval.)
- Any other cron (``30 * * * *``, ``*/10 9-17 * * *``) steps by the wall-clock distance between
  fire times in absolute time, so the repeated autumn hour is not skipped.

Pure: no clock; croniter is always given a start time.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from croniter import croniter

from tradewind.sdk.timetables.base import utc

#: A fixed instant to peek at a cron's fire times from (croniter would otherwise read the clock).
CRON_EPOCH = datetime(2000, 1, 1)


def has_fixed_time(expression: str) -> bool:
    """Whether the cron fires at one time of day (Airflow's test: its next two fire times share
    hour and minute)."""
    cron = croniter(expression, CRON_EPOCH)
    first, second = cron.get_next(datetime), cron.get_next(datetime)
    return bool(first.hour == second.hour and first.minute == second.minute)


def localize(naive: datetime, zone: tzinfo) -> datetime:
    """``naive`` wall-clock time in ``zone``: a time in a spring gap moves forward by the gap, a time
    that exists twice is its second occurrence (Airflow's ``make_aware``, pendulum's post-transition)."""
    earlier = naive.replace(tzinfo=zone, fold=0)
    later = naive.replace(tzinfo=zone, fold=1)
    before, after = earlier.utcoffset(), later.utcoffset()
    if before is not None and after is not None and after > before:
        return (naive + (after - before)).replace(tzinfo=zone, fold=1)
    return later


class CronClock:
    """Fire times of ``expression`` in ``zone``, as plain UTC datetimes."""

    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.expression = expression
        self.zone = zone
        self.fixed_time = has_fixed_time(expression)

    def _naive(self, t: datetime) -> datetime:
        return t.astimezone(self.zone).replace(tzinfo=None)

    def _step(self, t: datetime, forward: bool) -> datetime:
        naive = self._naive(t)
        cron = croniter(self.expression, naive)
        at = utc(t)
        while True:
            fired: datetime = cron.get_next(datetime) if forward else cron.get_prev(datetime)
            if self.fixed_time:
                result = utc(localize(fired, self.zone))
            else:
                result = utc(at + (fired - naive))
            # Just after a spring gap the skipped time maps back onto ``t`` itself (Airflow returns
            # it as the time before ``t``); the one before that is meant.
            if (result > at) if forward else (result < at):
                return result

    def next(self, t: datetime) -> datetime:
        """The first fire time strictly after ``t``."""
        return self._step(t, forward=True)

    def prev(self, t: datetime) -> datetime:
        """The last fire time strictly before ``t``."""
        return self._step(t, forward=False)

    def align_to_next(self, t: datetime) -> datetime:
        """``t`` if it is a fire time, else the next one."""
        following = self.next(t)
        return following if self.prev(following) != utc(t) else utc(t)

    def align_to_prev(self, t: datetime) -> datetime:
        """``t`` if it is a fire time, else the one before."""
        previous = self.prev(t)
        return previous if self.next(previous) != utc(t) else utc(t)

    def latest_complete_start(self, now: datetime) -> datetime:
        """Start of the latest interval that has ended by ``now`` (Airflow's catchup=False rule)."""
        last_start = self.prev(now)
        if self.next(last_start) == utc(now):
            return last_start
        return self.prev(last_start)
