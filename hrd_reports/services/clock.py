"""The only place services ask for the time, always in UTC."""

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def utc_today() -> dt.date:
    return utc_now().date()
