"""Data for the three case studies: finding files (``sources``), one module per case study
(``branching``, ``cellcycle``, ``hmtdna`` with ``phylotree``), and ``splits``."""
