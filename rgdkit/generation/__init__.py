"""Generation quality: a density on the latent manifold (``density``), new samples from it
through the decoder (``sampling``), and a classifier two-sample test of them against real data
(``discrimination``)."""
from rgdkit.generation.density import ManifoldMixture, select_mixture

__all__ = ["ManifoldMixture", "select_mixture"]
