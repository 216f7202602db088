"""Numeric kernels of training (denormal-free ELU and BCE, denormal flushing) and thread control."""
from rgdkit.numerics.kernels import (ELU, flushed_denormals, flushing_denormals,
                                     mean_bce_with_logits)

__all__ = ["ELU", "flushed_denormals", "flushing_denormals", "mean_bce_with_logits"]
