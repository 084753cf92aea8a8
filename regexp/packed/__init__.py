"""Packed trials: K small models of one shape trained in one TensorFlow graph.

grouping.py decides which trials share a pack (no TensorFlow); stack.py, optimizer.py and trainer.py train
a pack and write each trial's ordinary run folder.
"""
