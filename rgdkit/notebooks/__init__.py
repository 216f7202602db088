"""Executing the paper notebooks (``runner``) and what they find beside the project (``environment``)."""
