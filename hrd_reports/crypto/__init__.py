"""Pure cryptographic functions over bytes.

Nothing here touches the database, the file system, the network or the rest of the project:
the one place that imports ``cryptography`` and ``argon2``.
"""
