"""Figures: Poincaré disk, sphere, torus and embedding plots, and ``save_figure``."""
