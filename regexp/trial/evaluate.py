"""`regexp evaluate RUN`: reload a run's model.keras (safely) and score it on the run's own split.

Checks that a run folder someone shared holds what its metrics.json says, and adds MC-dropout
figures to a run trained without them.
"""

from pathlib import Path

from regexp.data import prepare
from regexp.net.mc_dropout import mc_dropout_metrics
from regexp.net.saved import load_model_file
from regexp.net.scoring import score
from regexp.spec import load_spec
from regexp.store.folders import read_run


def evaluate_run(run_path: Path, mc_dropout: int = 0) -> tuple[dict, dict]:
    """(scores now, scores recorded in metrics.json) per part; raises SpecError for a bad folder or model."""
    model = load_model_file(run_path / "model.keras")
    data = prepare(load_spec(run_path / "config.yaml"))  # the same seed gives the same split
    results = score(model, data)
    if mc_dropout and "test" in results:
        results["test"].update(mc_dropout_metrics(model, data, mc_dropout) or {})
    recorded = read_run(run_path).metrics
    return results, {part: recorded.part(part) if recorded else {} for part in results}
