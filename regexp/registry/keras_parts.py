"""The Keras pieces that the registries name and Keras does not ship: two metrics and a learning-rate
schedule. Imports Keras: only the registries' callables import it, and net/ (so that a saved
model finds these classes)."""

import keras

from regexp.registry.calibration import ECE_BINS, calibration, calibration_error


@keras.saving.register_keras_serializable(package="regexp")
class MajorityBinaryAccuracy(keras.metrics.Metric):
    """Accuracy against the label that dominates a mixed (soft) target; plain accuracy on hard ones.

    A registered class, not a wrapped function: a function in a model file's compile config reads
    as foreign code, and saved.py refused to load every binary model."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.mean = keras.metrics.Mean()

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = keras.metrics.binary_accuracy(keras.ops.cast(y_true > 0.5, y_pred.dtype), y_pred)
        self.mean.update_state(hits, sample_weight)

    def result(self):
        return self.mean.result()

    def reset_state(self):
        self.mean.reset_state()


@keras.saving.register_keras_serializable(package="regexp")
class ExpectedCalibrationError(keras.metrics.Metric):
    """ECE (Guo et al., 2017): predictions binned by confidence into ECE_BINS equal-width bins on
    [0, 1]; the sum over bins of (bin size / n) * |accuracy in the bin - mean confidence in the bin|.

    Written by hand: Keras has no calibration metric. The binning is the registry's `calibration`,
    which packs sum too. Confidence is the top class probability (binary: max(p, 1 - p)); the true
    class is the argmax of the target, so mixed targets count as their dominant label, as accuracy does.
    """

    def __init__(self, name="ece", **kwargs):
        super().__init__(name=name, **kwargs)
        shape = (ECE_BINS,)
        self.count = self.add_variable(shape=shape, initializer="zeros", name="count")
        self.confidence = self.add_variable(shape=shape, initializer="zeros", name="confidence")
        self.correct = self.add_variable(shape=shape, initializer="zeros", name="correct")

    def update_state(self, y_true, y_pred, sample_weight=None):
        sums = keras.ops.sum(calibration(y_true, keras.ops.cast(y_pred, "float32")), axis=0)
        for i, variable in enumerate((self.count, self.confidence, self.correct)):
            variable.assign_add(sums[i])

    def result(self):
        return calibration_error([self.count, self.confidence, self.correct])

    def reset_state(self):
        for variable in (self.count, self.confidence, self.correct):
            variable.assign(keras.ops.zeros_like(variable))


@keras.saving.register_keras_serializable(package="regexp")
class InverseSqrtDecay(keras.optimizers.schedules.LearningRateSchedule):
    """a0 * k / sqrt(t + 1). Written by hand: Keras ships no inverse-square-root schedule."""

    def __init__(self, initial_learning_rate: float, k: float = 1.0):
        self.initial_learning_rate, self.k = initial_learning_rate, k

    def __call__(self, step):
        t = keras.ops.cast(step, "float32")
        return self.initial_learning_rate * self.k / keras.ops.sqrt(t + 1.0)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "k": self.k}
