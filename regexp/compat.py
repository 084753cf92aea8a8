"""Private APIs of other libraries that regexp relies on, in one place, each with the version it
was checked on. tests/test_runfolder.py pins each behaviour, so an upgrade that changes one fails
there first. (Public attributes that Keras documents only by example, such as EarlyStopping's
`wait`/`best` counters that resume points save, are listed in trial/resume_point.py's COUNTERS.)
"""

import contextlib
import functools
import importlib
import importlib.abc
import importlib.util
import os
import signal
import sys
import tempfile


def cache_keras_saving_skipsets() -> None:
    """Keras 3.15.1: saving_lib.get_attr_skipset stores each set under 'saving_attr_skipset_<type>'
    but looks it up under 'saving_attr_skiplist_<type>', so every model.save builds reference Layer,
    Metric and Optimizer objects again, a large share of a pack trial's saving. Store each set under
    the key it is read from (thread-local Keras state: call it in the thread that saves)."""
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    for kind in ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss"):
        global_state.set_global_attribute(f"saving_attr_skiplist_{kind}", saving_lib.get_attr_skipset(kind))


def signal_workers(pool, number: int = signal.SIGTERM) -> None:
    """Send a signal to every live worker of a ProcessPoolExecutor. Python 3.11-3.13 have no public
    API for a pool's processes (3.14 adds terminate_workers, which kills instead of asking); checked on
    3.11.7: `_processes` maps pid -> multiprocessing.Process."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            os.kill(process.pid, number)


def sbatch_script(parameters: dict, folder, tasks: int) -> str:
    """The sbatch file submitit's SlurmExecutor writes for a job array of `tasks` with these
    parameters (what `sweep --dry-run` shows and `sbatch --test-only` checks). submitit has no
    public API for it; checked on 1.5.4: slurm.slurm._make_sbatch_string writes every array it submits."""
    from submitit.slurm.slurm import _make_sbatch_string

    return _make_sbatch_string(command="true", folder=folder, map_count=tasks, **parameters)


@functools.cache
def grouped_conv_trains() -> bool:
    """Whether this TensorFlow can take the filter gradient of a grouped convolution (filter input
    depth < the input's channels). TensorFlow 2.21.0 on CPU: only through oneDNN, which it turns on by
    default only on some processors; elsewhere (checked: an AVX2-only AMD EPYC) Conv2DBackpropFilter
    fails with "filter_size does not have enough elements". Packs then convolve as patches x kernel.
    Call it eagerly (it runs a tiny convolution)."""
    import tensorflow as tf

    x, w = tf.ones([1, 4, 4, 4]), tf.Variable(tf.ones([3, 3, 2, 4]))
    try:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME"))
        tape.gradient(y, w).numpy()
        return True
    except tf.errors.InvalidArgumentError:
        return False


class QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Holds back what TensorFlow's native start-up writes to stderr while it is imported (TF 2.21:
    absl's "All log messages before absl::InitializeLog()", CUDA probing, CPU feature notes, which
    TF_CPP_MIN_LOG_LEVEL does not silence). Written by hand: TensorFlow has no switch for them. The
    lines are shown in full if the import fails; `regexp --verbose` does not install this."""

    @classmethod
    def install(cls) -> None:
        if "tensorflow" not in sys.modules and not any(isinstance(f, cls) for f in sys.meta_path):
            sys.meta_path.insert(0, cls())

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the real finders take it from here
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        real = spec.loader.exec_module

        def exec_module(module):
            with _held_stderr():
                real(module)
        spec.loader.exec_module = exec_module
        return spec


@contextlib.contextmanager
def _held_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except Exception:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_tensorflow() -> None:
    """TensorFlow's C++ log level, for its start-up notes, cuInit and XLA lines, and the lines its
    import writes before its logging is set up, held back (QuietTensorFlowImport): the CLI and the
    Python API alike. Set before TensorFlow loads: it cannot quiet one a notebook imported already.
    REGEXP_VERBOSE=1 (as `regexp --verbose` sets it) shows everything."""
    if os.environ.get("REGEXP_VERBOSE"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # spawned workers inherit it too
    QuietTensorFlowImport.install()


def callable_package(name: str, function: str) -> None:
    """Make the package `name` callable as regexp.api's `function`: once a package is imported,
    `regexp.<package>` is the package, not regexp/__init__.py's lazy attribute, and
    `regexp.report(...)` / `regexp.sweep(...)` must still run the report or the sweep (docs/api.md)."""
    import types

    class CallablePackage(types.ModuleType):
        def __call__(self, *args, **kwargs):  # the API by name: the packages it calls never import it
            return getattr(importlib.import_module("regexp.api"), function)(*args, **kwargs)

    sys.modules[name].__class__ = CallablePackage
