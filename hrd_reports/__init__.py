"""hrd-reports: secure, anonymous incident reporting for human-rights defenders."""

__version__ = "0.1.0"
