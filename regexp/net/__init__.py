"""Building and using the network: Keras model, layers, optimizers, losses and metrics, input pipeline, seeded draws, saved models."""
