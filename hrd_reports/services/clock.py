"""The only place services ask for the time, always in UTC."""

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def naive_utc_now() -> dt.datetime:
    """UTC without a zone, as stored (SQLite keeps none); looked up through this module, so a
    test that moves ``utc_now`` moves this too."""
    return utc_now().replace(tzinfo=None)


def utc_today() -> dt.date:
    return utc_now().date()
