"""Metrics: geodesic distances on a manifold, the reference geometries they are scored against, and
reconstruction scores."""
from rgdkit.metrics.distances import (correlate, correlate_distances, distance_correlation,
                                      pairwise_distances, upper_triangle)
from rgdkit.metrics.reconstruction import binary_reconstruction_scores, reconstruction_errors
from rgdkit.metrics.references import (circular_distances, hamming_distances, tree_distances,
                                       tree_nodes)

__all__ = ["binary_reconstruction_scores", "circular_distances", "correlate", "correlate_distances",
           "distance_correlation", "hamming_distances", "pairwise_distances", "reconstruction_errors",
           "tree_distances", "tree_nodes", "upper_triangle"]
