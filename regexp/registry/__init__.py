"""The registries: one module per kind of extension point (metrics, optimizers, schedules,
datasets, statistical tests), each entry one typed record. They import nothing heavy (no numpy,
no TensorFlow), so the spec schema, `validate` and the report read them at start-up; the
callables an entry carries import their library when called."""
