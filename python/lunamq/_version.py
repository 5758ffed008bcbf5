"""The package version (one place, read by __init__ and aio)."""
__version__ = "0.1.0"
