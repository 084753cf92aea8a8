"""Every model key of the schema reaches the built Keras model: inspect the layers themselves."""

import keras
import numpy as np
import pytest

from regexp.data import prepare
from regexp.net.model import build_model
from regexp.spec import load_spec
from regexp.spec.schema import ACTIVATIONS, INITIALIZERS

from conftest import TINY, merged


def build(write_spec, **sections):
    loaded = load_spec(write_spec(merged(TINY, **sections)))
    data = prepare(loaded)
    return build_model(loaded.spec.model, data), data


def layer_names(model):
    return [layer.name for layer in model.layers]


def test_regularizers_initializers_and_constraints_reach_the_dense_layer(write_spec):
    model, _ = build(write_spec, model={"defaults": {"l1": 0.001, "l2": 0.01, "bias_l1": 0.002, "bias_l2": 0.003,
                                                     "max_norm": 2.5, "initializer": "lecun_uniform"},
                                        "layers": [{"type": "dense", "units": 8}]})
    dense = model.get_layer("l0")
    assert isinstance(dense.kernel_initializer, keras.initializers.LecunUniform)
    assert isinstance(dense.kernel_regularizer, keras.regularizers.L1L2)
    assert dense.kernel_regularizer.l1 == pytest.approx(0.001) and dense.kernel_regularizer.l2 == pytest.approx(0.01)
    assert dense.bias_regularizer.l1 == pytest.approx(0.002) and dense.bias_regularizer.l2 == pytest.approx(0.003)
    assert isinstance(dense.kernel_constraint, keras.constraints.MaxNorm)
    assert dense.kernel_constraint.max_value == 2.5 and dense.kernel_constraint.axis == 0
    assert dense.activation is keras.activations.linear  # the activation is its own layer


def test_per_layer_values_override_defaults(write_spec):
    model, _ = build(write_spec, model={"defaults": {"l2": 0.01, "dropout": 0.5, "activation": "tanh"},
                                        "layers": [{"type": "dense", "units": 8},
                                                   {"type": "dense", "units": 4, "l2": 0.0, "dropout": 0.1,
                                                    "activation": "elu"}]})
    assert model.get_layer("l0").kernel_regularizer.l2 == pytest.approx(0.01)
    assert model.get_layer("l1").kernel_regularizer is None
    assert model.get_layer("l0_dropout").rate == 0.5 and model.get_layer("l1_dropout").rate == 0.1
    assert model.get_layer("l0_tanh").activation is keras.activations.tanh
    assert model.get_layer("l1_elu").activation is keras.activations.elu


@pytest.mark.parametrize("position, order", [
    ("before", ["l0", "l0_bn", "l0_relu", "l0_dropout"]),
    ("after", ["l0", "l0_relu", "l0_bn", "l0_dropout"]),
    ("none", ["l0", "l0_relu", "l0_dropout"]),
])
def test_batch_norm_position_relative_to_activation(write_spec, position, order):
    model, _ = build(write_spec, model={"defaults": {"batch_norm": position, "dropout": 0.2}})
    names = [n for n in layer_names(model) if n.startswith("l0")]
    assert names == order
    if position != "none":
        assert isinstance(model.get_layer("l0_bn"), keras.layers.BatchNormalization)


@pytest.mark.parametrize("kind, cls, groups", [
    ("layer", keras.layers.LayerNormalization, None),
    ("group", keras.layers.GroupNormalization, 4),
])
def test_other_norms_sit_before_the_activation(write_spec, kind, cls, groups):
    model, _ = build(write_spec, model={"defaults": {"norm": kind}})
    names = [n for n in layer_names(model) if n.startswith("l0")]
    assert names == ["l0", f"l0_{kind}_norm", "l0_relu"]
    norm = model.get_layer(f"l0_{kind}_norm")
    assert type(norm) is cls
    if groups is not None:
        assert norm.groups == groups


def test_instance_norm_normalizes_each_feature_map_of_a_conv_layer(write_spec):
    """(On a dense layer it is a spec error: one value per unit normalizes to 0, test_spec_errors.)"""
    model, _ = build(write_spec, data={"dataset": "digits"},
                     model={"layers": [{"type": "conv2d", "filters": 4, "norm": "instance"}, {"type": "flatten"}]})
    norm = model.get_layer("l0_instance_norm")
    assert type(norm) is keras.layers.GroupNormalization and norm.groups == 4  # one group per filter


@pytest.mark.parametrize("kind, cls", [
    ("standard", keras.layers.Dropout), ("alpha", keras.layers.AlphaDropout), ("gaussian",
                                                                               keras.layers.GaussianDropout),
])
def test_dropout_kinds_and_rates(write_spec, kind, cls):
    model, _ = build(write_spec, model={"defaults": {"dropout": 0.3, "dropout_type": kind}})
    layer = model.get_layer("l0_dropout")
    assert type(layer) is cls and layer.rate == 0.3


def test_input_noise_dropout_and_scaling_come_first(write_spec):
    model, data = build(write_spec, model={"input_noise": 0.1, "input_dropout": 0.2})
    assert layer_names(model)[:4] == ["features", "scale", "input_noise", "input_dropout"]
    assert model.get_layer("input_noise").stddev == 0.1
    assert model.get_layer("input_dropout").rate == 0.2


def test_conv_net_with_spatial_dropout_and_pooling(write_spec):
    model, data = build(write_spec, data={"dataset": "digits", "shape": [8, 8, 1]}, model={
        "defaults": {"max_norm": 3.0},
        "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "dropout": 0.2, "dropout_type": "spatial"},
                   {"type": "max_pool", "pool_size": 2}, {"type": "flatten"}, {"type": "dense", "units": 8}]})
    assert model.get_layer("to_image").target_shape == (8, 8, 1)
    conv = model.get_layer("l0")
    assert isinstance(conv, keras.layers.Conv2D) and conv.filters == 4
    assert conv.kernel_constraint.axis == [0, 1, 2]  # each filter's whole kernel
    assert isinstance(model.get_layer("l0_dropout"), keras.layers.SpatialDropout2D)
    assert isinstance(model.get_layer("l1"), keras.layers.MaxPooling2D)
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize("dataset, task, units, activation", [
    ("iris", "classification", 3, "softmax"), ("breast_cancer", "binary", 1, "sigmoid"), ("regression", "regression",
                                                                                          1, "linear"),
])
def test_output_layer_follows_the_task(write_spec, dataset, task, units, activation):
    model, data = build(write_spec, data={"dataset": dataset},
                        model={"output": {"initializer": "glorot_normal", "l2": 0.02}},
                        training={"metrics": None})
    out = model.get_layer("output")
    assert data.task == task
    assert out.units == units and out.activation is getattr(keras.activations, activation)
    assert isinstance(out.kernel_initializer, keras.initializers.GlorotNormal)
    assert out.kernel_regularizer.l2 == pytest.approx(0.02)


def test_scaling_uses_train_statistics_only(write_spec):
    model, data = build(write_spec, data={"dataset": "wine"})
    norm = model.get_layer("scale")
    np.testing.assert_allclose(np.asarray(norm.mean).ravel(), data.x_train.mean(axis=0), rtol=1e-5)
    everything = np.concatenate([data.x_train, data.x_val, data.x_test])
    assert not np.allclose(np.asarray(norm.mean).ravel(), everything.mean(axis=0), rtol=1e-5)
    scaled = keras.ops.convert_to_numpy(norm(data.x_train))
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-3)


def test_minmax_scaling_maps_train_range_to_unit_interval(write_spec):
    model, data = build(write_spec, data={"dataset": "wine", "scale": "minmax"})
    scaled = keras.ops.convert_to_numpy(model.get_layer("scale")(data.x_train))
    np.testing.assert_allclose(scaled.min(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.max(axis=0), 1, atol=1e-5)


def test_a_feature_constant_in_train_does_not_explode(write_spec):
    """digits has pixels that are always 0 in the train part: they must stay finite elsewhere."""
    model, data = build(write_spec, data={"dataset": "digits"})
    scaled = keras.ops.convert_to_numpy(model.get_layer("scale")(data.x_val))
    assert np.abs(scaled).max() < 100


# Keras names the schema does not offer, and why; a new Keras name must be offered or listed here.
NOT_OFFERED = {
    "activations": {"softmax", "log_softmax", "sparsemax",  # normalize over the last axis: output layers' business
                    "glu",                                   # halves the layer's width
                    "hard_shrink", "soft_shrink", "threshold", "sparse_sigmoid"},  # need a threshold parameter
    "initializers": {"constant",   # needs a value
                     "identity",   # square kernels only
                     "stft"},      # for STFT layers
}


@pytest.mark.parametrize("kind, names", [("activations", ACTIVATIONS), ("initializers", INITIALIZERS)])
def test_schema_name_lists_match_installed_keras(kind, names):
    module = getattr(keras, kind)
    for name in names:  # every name the schema accepts resolves in Keras (get raises on an unknown name)
        assert callable(module.get(name)), name
    with pytest.raises(ValueError):
        module.get("not_a_keras_name")
    public = {n for n in dir(module) if not n.startswith("_") and n[0].islower()} - {"get", "serialize", "deserialize"}
    assert public - set(names) == NOT_OFFERED[kind]
