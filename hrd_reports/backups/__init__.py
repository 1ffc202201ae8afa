"""Backups of a whole desk: the file format, writing one, checking one, restoring one."""
