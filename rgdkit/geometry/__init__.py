"""Geometry a fitted decoder induces on its latent manifold (``pullback``)."""
