"""Lookalike: find the photos in your own library that show the same place, object or scene."""

__version__ = "0.1.0"
