"""What the notebooks run: the paper's experiments, settings and published numbers (``paper``), the
experiment loop (``loop``) and its worker processes (``workers``), run profiles (``profiles``),
tables over seeds (``tables``), the run's provenance header (``report``), and the studies beyond
the paper (``generation_study``, ``pullback_study``)."""
