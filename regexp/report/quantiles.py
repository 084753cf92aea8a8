"""Student t quantiles for the report's 95% intervals: scipy's, remembered across processes.

A group's interval needs t(1 - α/2, n - 1), which scipy.special.stdtrit gives; importing
scipy.special (and the numpy it loads) is 0.3-0.5 s on a 2-core machine, more than the rest of a
report after a few new runs spends on statistics. The quantiles a user's reports ask for (one per
group size; the first time, every df up to 256 at once) are kept in one small file in the cache
folder, keyed by scipy's version file, so a later report reads them instead of importing scipy.
Only whole degrees of freedom are kept (a Welch df is any real number, and the tests that need one
import scipy.stats anyway). The values are scipy's own, written with repr and read back bit for bit.
Written by hand: joblib.Memory, the library that memoizes on disk, takes 0.24 s to import and loads
numpy, which is what this file is here to avoid.
"""

import functools
import hashlib
import importlib.util
import json
from pathlib import Path

from regexp.store.files import cache_root, write_atomic

WHOLE_DF = 256  # df 1..256 are computed together (one vectorized call) the first time scipy is needed
KEEP = 4096     # (df, α) pairs kept in the file


@functools.cache
def _stored() -> dict:
    """The file's quantiles for the installed scipy ({} when missing, damaged or another scipy's)."""
    try:
        data = json.loads((cache_root() / "t-quantiles.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("scipy") != _scipy_version():
        return {}
    values = data.get("values")
    return {k: v for k, v in values.items() if isinstance(v, float)} if isinstance(values, dict) else {}


_new: dict[str, float] = {}  # computed in this process and not yet in the file


@functools.lru_cache(maxsize=1024)
def t_quantile(df: float, alpha: float) -> float:
    """The two-sided (1 - alpha) critical value of Student's t with `df` degrees of freedom."""
    whole = float(df).is_integer()
    key = f"{int(df) if whole else df!r}:{alpha!r}"
    if key in _stored():
        return _stored()[key]
    if key in _new:  # computed with an earlier df's vector in this process
        return _new[key]
    import numpy as np
    from scipy.special import stdtrit

    if whole:  # scipy is loaded now: keep every group size up to WHOLE_DF, so that a group that grows needs no import
        _new.update({f"{d}:{alpha!r}": float(q) for d, q in zip(range(1, WHOLE_DF + 1),
                                                                stdtrit(np.arange(1.0, WHOLE_DF + 1), 1 - alpha / 2))})
    value = float(stdtrit(df, 1 - alpha / 2))
    if whole:
        _new[key] = value
    return value


def remember() -> None:
    """Add this process's new quantiles to the file; a file that cannot be written is left alone."""
    if not _new:
        return
    values = {**_stored(), **_new}
    try:
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        write_atomic(root / "t-quantiles.json", json.dumps({"scipy": _scipy_version(),
                                                             "values": dict(list(values.items())[-KEEP:])}),
                     durable=False)
    except OSError:
        return
    _stored.cache_clear()
    _new.clear()


@functools.cache
def _scipy_version() -> str:
    """A digest of scipy's version.py (its version and git revision), read without importing scipy
    and without importlib.metadata, whose look-up scans every installed distribution."""
    spec = importlib.util.find_spec("scipy")
    text = (Path(spec.origin).parent / "version.py").read_bytes() if spec and spec.origin else b""
    return hashlib.sha256(text).hexdigest()[:16]
