"""The training skeleton the estimators share (``base``): scikit-learn parameters, own random
generator, epoch loop with early stopping, divergence handling and best-state restore."""
