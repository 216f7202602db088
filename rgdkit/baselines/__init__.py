"""Baselines the paper compares against: the Poincaré VAE (``pvae``) and UMAP (``umap``)."""
