"""Support code for the Riemannian generative decoder notebooks.

The method itself (manifolds, geometry-aware noise, the ``RiemannianDecoder`` estimator) is the
top-level module ``rgd_utils``; this package holds everything around it, one job per folder:

- ``rgdkit.metrics``: geodesic distance matrices, reference geometries, reconstruction scores;
- ``rgdkit.data``: data files (local, Hub, offline) and one module per case study;
- ``rgdkit.baselines``: the P-VAE and UMAP;
- ``rgdkit.geometry``: the pullback geometry of a fitted decoder;
- ``rgdkit.experiments``: the notebooks' experiment loop, profiles and tables;
- ``rgdkit.plotting``: figures and ``save_figure``;
- ``rgdkit.files``: atomic writes and the results folder;
- ``rgdkit.notebooks``: executing the notebooks (papermill).
"""
