"""The domain rules, shared by the command line and the web.

Services take a SQLAlchemy session and explicit keyword arguments, ``flush()`` and never
``commit()``: the CLI command or the request that called them commits once, so a failure
anywhere leaves nothing half done.
"""
