"""How a table was read: one record per file, made by data/table.py, printed by `regexp validate`,
kept in each run's run.json (`table`) and shown by `regexp show`. Training uses the matrix that
the same reading produced, so what validate prints is what the model sees. No pandas here: the
report reads these records from run.json."""

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class ColumnReading(BaseModel):
    """One column of the file: what it became and why."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(description="The column's header.")
    kind: Literal["numeric", "categorical", "dropped", "target"] = Field(
        description="numeric | categorical (encoded inside the model) | dropped (not a feature) | target (the label).")
    why: Optional[str] = Field(None, description="Why a column is categorical or dropped (for instance `text values`, "
                                                 "`data.drop`, `row index 1..n`).")
    values: int = Field(0, description="Distinct non-missing values in the file.")
    encoding: Optional[Literal["one_hot", "embedding"]] = Field(
        None, description="categorical: one-hot (at most data.max_onehot values in the file) or an Embedding.")
    missing: int = Field(0, description="Cells read as missing (empty, a marker or one of data.na_values).")
    markers: dict[str, int] = Field(default_factory=dict, description="Each missing marker seen, with its count.")
    fill: Optional[str] = Field(None, description="What a missing cell becomes: the train part's mean or median "
                                                  "(plus a was-missing column with indicator), or the out-of-"
                                                  "vocabulary code for a categorical column; null when none is "
                                                  "missing.")
    number_form: Optional[str] = Field(None, description="How numbers that are not plain were written: thousands "
                                                         "separators (1,234.5) or, in a ';' file, Excel's European "
                                                         "form (1.234,5).")


class TableReading(BaseModel):
    """run.json `table`: how regexp read the csv or parquet file of data.path."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    file: str = Field(description="The file's name.")
    sep: Optional[str] = Field(None, description="The csv separator used (sniffed unless data.sep sets it).")
    rows: int = Field(description="Data rows read.")
    columns: list[ColumnReading] = Field(description="Every column of the file, in its order.")
    classes: Optional[dict[str, int]] = Field(None, description="Classification: each label value with its count in "
                                                                "the file.")
    notes: list[str] = Field(default_factory=list, description="What regexp inferred that changes the answer (a "
                                                               "dropped row index, a sniffed separator).")
    warnings: list[str] = Field(default_factory=list, description="What looks wrong but was kept: an ID-like column, a "
                                                                  "column that alone predicts the label, a value that "
                                                                  "looks like a missing marker.")

    @property
    def features(self) -> list[ColumnReading]:
        return [c for c in self.columns if c.kind in ("numeric", "categorical")]
