"""One trial: training alone, its lifecycle, resume points, probes, TensorBoard, gradient check, evaluate."""
