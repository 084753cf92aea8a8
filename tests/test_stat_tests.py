"""The statistical tests `report --test` offers (registry/stat_tests.py): each documented, each
computed as its definition says."""

from pathlib import Path

from regexp.registry.stat_tests import STAT_TESTS

FORMULAS = (Path(__file__).resolve().parents[1] / "docs" / "formulas.md").read_text(encoding="utf-8")


def test_each_test_is_documented_in_formulas_md_with_its_source_and_function():
    for test in STAT_TESTS.values():
        assert f"`--test {test.name}`" in FORMULAS, test.name
        for source in (*test.citation.split("; "), *test.computed_by):
            assert source in FORMULAS, f"{test.name}: docs/formulas.md does not name {source}"
