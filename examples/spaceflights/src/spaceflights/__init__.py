"""Spaceflights: example Kedro 1.x project."""

__version__ = "0.1"
