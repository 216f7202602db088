"""Executing the paper notebooks (``runner``)."""
