"""The package version, in one place: pyproject.toml reads it, and so does the package."""

__version__ = "0.1.0"
