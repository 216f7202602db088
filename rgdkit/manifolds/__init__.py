"""Latent manifolds: the registry of supported geoopt classes (``registry``), checking points on
them (``points``) and the tangent-space kernels of the geometry-aware noise (``tangent``)."""
from rgdkit.manifolds.points import check_on_manifold, describe_constraint, manifold_tolerance
from rgdkit.manifolds.registry import (CURVATURE_RANGE, CURVED, DECODER_DTYPE, GEOOPT_MANIFOLDS,
                                       MANIFOLDS, adam_ready, ambient_dim, check_has_distance,
                                       check_latent_dtype,
                                       decoder_coordinates, default_dtype, exp_or_retr,
                                       is_builtin, is_complex_manifold, is_torus, latent_manifold,
                                       make_manifold,
                                       manifold_origin, point_ndim, point_shape, random_points)

__all__ = ["CURVATURE_RANGE", "CURVED", "DECODER_DTYPE", "GEOOPT_MANIFOLDS", "MANIFOLDS",
           "adam_ready", "ambient_dim", "check_has_distance", "check_latent_dtype", "check_on_manifold",
           "decoder_coordinates", "default_dtype", "describe_constraint", "exp_or_retr",
           "is_builtin", "is_complex_manifold", "is_torus", "latent_manifold", "make_manifold", "manifold_origin",
           "manifold_tolerance", "point_ndim", "point_shape", "random_points"]
