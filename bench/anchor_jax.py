"""The yardstick for packs (issue 29): the dropout x L2 digits grid written by hand in JAX + optax,
every trial a slice of one `vmap` over parameters, optimizer state, data split and random keys
(PureJaxRL-style). It writes nothing but the numbers: one JSON file of per-trial histories.

  .venv/bin/pip install -e '.[bench]'          (jax, optax: a bench extra, never a runtime dependency)
  python bench/anchor_jax.py --seeds 10 --out numbers.json

The same work as `regexp sweep configs/digits-dropout-l2-sweep.yaml` with early stopping off:
digits, a stratified 0.6/0.2/0.2 split drawn per seed, standardized with the training part's
statistics, Dense 64 ReLU -> dropout -> Dense 10 softmax, L2 on the hidden kernel (Keras's
`l2 * sum(w**2)`), Glorot-uniform kernels and zero biases, Adam 1e-3 (Keras's epsilon 1e-7),
batch 32 with the last short batch kept, a fresh shuffle every epoch, validation loss every
epoch and test accuracy at the end. bench/packed.py anchor times it against regexp.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

DROPOUT, L2 = (0.0, 0.2, 0.5), (0.0, 1e-4, 1e-3)  # the grid of configs/digits-dropout-l2-sweep.yaml
HIDDEN, CLASSES, BATCH = 64, 10, 32


def split(seed: int, x: np.ndarray, y: np.ndarray) -> tuple:
    """Train/val/test 0.6/0.2/0.2, stratified, standardized by the training part."""
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, train_size=0.6, stratify=y, random_state=seed)
    x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, train_size=0.5, stratify=y_rest,
                                                    random_state=seed)
    mean, std = x_train.mean(0), x_train.std(0)
    std[std == 0] = 1.0
    return tuple(((a - mean) / std).astype(np.float32) for a in (x_train, x_val, x_test)) + (y_train, y_val, y_test)


def init(key):
    k1, k2 = jax.random.split(key)
    glorot = jax.nn.initializers.glorot_uniform()
    return {"w1": glorot(k1, (64, HIDDEN)), "b1": jnp.zeros(HIDDEN),
            "w2": glorot(k2, (HIDDEN, CLASSES)), "b2": jnp.zeros(CLASSES)}


def logits(params, x, rate=0.0, key=None):
    h = jax.nn.relu(x @ params["w1"] + params["b1"])
    if key is not None:  # inverted dropout, as keras.layers.Dropout in training
        keep = jax.random.bernoulli(key, 1.0 - rate, h.shape)
        h = jnp.where(keep, h / (1.0 - rate), 0.0)
    return h @ params["w2"] + params["b2"]


def data_loss(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()


optimizer = optax.adam(1e-3, eps=1e-7)


def train_epoch(params, state, x, y, order, rate, l2, key):
    """One epoch of one trial: a scan over its full batches, then the short last one."""
    def step(carry, idx):
        params, state, key = carry
        key, sub = jax.random.split(key)

        def objective(p):
            out = logits(p, x[idx], rate, sub)
            return optax.softmax_cross_entropy_with_integer_labels(out, y[idx]).mean() + l2 * jnp.sum(p["w1"] ** 2)
        grads = jax.grad(objective)(params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state, key), None

    full = order.shape[0] // BATCH
    carry, _ = jax.lax.scan(step, (params, state, key), order[:full * BATCH].reshape(full, BATCH))
    if order.shape[0] % BATCH:
        carry, _ = step(carry, order[full * BATCH:])
    return carry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", default="anchor_numbers.json")
    args = parser.parse_args()
    started = time.perf_counter()
    digits = load_digits()
    points = [(d, l2, s) for d in DROPOUT for l2 in L2 for s in range(args.seeds)]
    parts = [split(s, digits.data, digits.target) for _, _, s in points]
    x_train, x_val, x_test, y_train, y_val, y_test = (jnp.asarray(np.stack([p[i] for p in parts])) for i in range(6))
    rate = jnp.asarray([p[0] for p in points], jnp.float32)
    l2 = jnp.asarray([p[1] for p in points], jnp.float32)
    keys = jax.vmap(jax.random.key)(jnp.asarray([p[2] for p in points]))
    params = jax.vmap(init)(keys)
    state = jax.vmap(optimizer.init)(params)
    epoch_all = jax.jit(jax.vmap(train_epoch))
    val_all = jax.jit(jax.vmap(data_loss))
    n = x_train.shape[1]
    history = []
    rng = np.random.default_rng(0)
    for epoch in range(args.epochs):
        order = jnp.asarray(np.stack([rng.permutation(n) for _ in points]).astype(np.int32))
        keys = jax.vmap(lambda k: jax.random.fold_in(k, epoch))(keys)
        params, state, _ = epoch_all(params, state, x_train, y_train, order, rate, l2, keys)
        history.append(np.asarray(val_all(params, x_val, y_val)).tolist())  # one host round trip per epoch
    test_accuracy = np.asarray(jax.vmap(lambda p, x, y: (logits(p, x).argmax(-1) == y).mean())(
        params, x_test, y_test))
    with open(args.out, "w") as f:
        json.dump({"points": points, "val_loss": history, "test_accuracy": test_accuracy.tolist(),
                   "seconds_in_process": time.perf_counter() - started}, f)


if __name__ == "__main__":
    main()
