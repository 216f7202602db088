"""Generation quality: a density on the latent manifold (``density``: mixtures; ``flows``: a
Riemannian continuous normalising flow), new samples from it through the decoder (``sampling``),
and a classifier two-sample test of them against real data (``discrimination``)."""
from rgdkit.generation.density import ManifoldMixture, select_mixture
from rgdkit.generation.flows import RiemannianFlowDensity
from rgdkit.generation.discrimination import discrimination_accuracy, generation_table
from rgdkit.generation.sampling import generate, likelihood_std, pvae_prior_sampler

__all__ = ["ManifoldMixture", "RiemannianFlowDensity", "discrimination_accuracy", "generate",
           "generation_table", "likelihood_std", "pvae_prior_sampler", "select_mixture"]
