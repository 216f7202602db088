"""Writing files: atomically (``atomic``), and the results folder with its tables (``results``)."""
