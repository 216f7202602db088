"""Support code for the Riemannian generative decoder notebooks.

The method itself (manifolds by name, geometry-aware noise, decoder, MAP objective, the training
loop, test-time latents, the ``RiemannianDecoder`` estimator) is the top-level module
``rgd_utils``; this package holds everything around it, one job per folder. Below the method
(``rgd_utils`` imports them; they never import it, except ``rgdkit.training.authors_choices``,
which subclasses the estimator):

- ``rgdkit.manifolds``: the registry of supported manifolds, point checks, tangent kernels;
- ``rgdkit.numerics``: the denormal-free ELU and BCE, denormal flushing;
- ``rgdkit.validation``: input and parameter checks;
- ``rgdkit.training``: the engine's bookkeeping, multi-start optimisation, the authors' choices.

Around it:

- ``rgdkit.tl``: the scanpy-style entry point ``rgd(adata, ...)``;
- ``rgdkit.metrics``: geodesic distance matrices, reference geometries, reconstruction scores;
- ``rgdkit.data``: data files (local, Hub, offline) and one module per case study;
- ``rgdkit.baselines``: the P-VAE, the S-VAE, the ΔVAE and UMAP;
- ``rgdkit.geometry``: the pullback geometry of a fitted decoder;
- ``rgdkit.experiments``: the notebooks' experiment loop, profiles and tables;
- ``rgdkit.plotting``: figures and ``save_figure``;
- ``rgdkit.files``: atomic writes and the results folder;
- ``rgdkit.notebooks``: executing the notebooks (papermill).
"""
import warnings

with warnings.catch_warnings():  # geoopt 0.5.1 decorates its math with torch.jit.script, which
    # torch 2.13 deprecates: the pinned pair warns three times at import, about nothing we call
    warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
    import geoopt  # noqa: F401
