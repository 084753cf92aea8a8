"""Building and using the network: the Keras model and layers, optimizers, losses and metrics, the
input pipeline, seeded draws, saved models and predictions."""
