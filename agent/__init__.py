"""bioagent: a cited, checkable research assistant for viral proteins."""

__version__ = "0.1.0"
