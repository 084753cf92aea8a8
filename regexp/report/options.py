"""What a report is asked: one frozen record that `regexp report` fills from its options, that keys
the answer cache (report/cache.py), that `regexp.report(...)` takes as keywords and that
build_report reads. Each field has the command-line option's name (--cv-folds is `cv_folds`,
--no-groups is `no_groups`, --metric is `metric`).

Light on purpose: a report answered from the cache builds this record and nothing of build.py.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from regexp.errors import UserError
from regexp.registry.stat_tests import STAT_TESTS

FAILURES = ("drop", "worst")                      # --failures
CV_FOLDS = ("average", "nadeau-bengio")           # --cv-folds
ACROSS = ("data",)                                # --across: what the comparisons are aggregated over
CORRECTIONS = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no correction"}  # --correction: its name in words


@dataclass(frozen=True)
class ReportOptions:
    """The report's question and layout; the checks that need no run are made here, once."""

    targets: tuple[str, ...] = ()     # run folders, ids (prefixes) or globs; () is every run in runs_dir
    runs_dir: Path = Path("runs")
    filters: tuple[str, ...] = ()     # --filter rules, all must match
    sort: str | None = None           # a column; default: a sweep's objective
    limit: int | None = None
    all_params: bool = False
    expand: bool = False
    no_groups: bool = False           # one row per run, even for repeats of one spec
    group_by: str | None = None
    baseline: str | None = None
    metric: str | None = None         # the column that gets the CI and the baseline test (the report's focus)
    correction: str = "holm"
    against: str | None = None        # compare each row's --metric column with this column of the same runs
    detect: float | None = None       # the difference seeds_needed plans for
    failures: str = "drop"            # drop failed seeds, or count them as the arm's worst value
    margin: float | None = None       # equivalence (TOST) within ±margin
    test: str = "t"                   # a name in registry/stat_tests.py
    cv_folds: str = "average"         # average within a seed, or nadeau-bengio fold-level
    importance: bool = False          # each search sweep's parameter importance and expected best
    across: str | None = None         # aggregate each dataset's comparisons (report/across.py)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "filters", tuple(self.filters))
        object.__setattr__(self, "runs_dir", Path(self.runs_dir))
        for option, value, allowed, what in (("--cv-folds", self.cv_folds, CV_FOLDS, "a choice"),
                                             ("--test", self.test, tuple(STAT_TESTS), "a test"),
                                             ("--failures", self.failures, FAILURES, "a policy"),
                                             ("--correction", self.correction, tuple(CORRECTIONS), "a correction")):
            if value not in allowed:
                raise UserError(f"{option} {value}: not {what} (allowed: {' | '.join(allowed)})")
        if self.margin is not None and self.baseline is None:
            raise UserError("--margin: needs --baseline: equivalence is to a baseline row")
        if self.against is not None and self.baseline is not None:
            raise UserError("--against and --baseline: give one (a column of the same runs, or a row to compare with)")
        if self.group_by is not None and (self.no_groups or self.expand):
            raise UserError("--group-by: cannot be combined with --no-groups or --expand")
        if self.across is not None and self.across not in ACROSS:
            raise UserError(f"--across {self.across}: not a choice (allowed: {' | '.join(ACROSS)})")
        if self.across is not None and self.baseline is None and self.against is None:
            raise UserError(f"--across {self.across}: needs --baseline (or --against): it aggregates each dataset's "
                            "comparisons")
        if self.detect is not None and self.baseline is None and self.against is None:
            raise UserError("--detect: needs --baseline (or --against): it plans seeds for a comparison")

    @property
    def whole_folder(self) -> bool:
        """Every run in runs_dir: the case the answer cache and the record index serve."""
        return not self.targets

    def to_json(self) -> dict:
        """The options as plain values (the cache key's part)."""
        data = asdict(self)
        return {**data, "targets": list(self.targets), "filters": list(self.filters), "runs_dir": str(self.runs_dir)}
