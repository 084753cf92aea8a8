"""Property-based tests (hypothesis): generated and mutated specs, --set strings and damaged run
folders never end in a traceback. A small fixed budget here; bench/fuzz.py runs the long one."""

import json

from hypothesis import given
from hypothesis import strategies as st

import fuzzing
from conftest import TINY


@fuzzing.budget(60)
@given(fuzzing.example_specs())
def test_mutated_example_configs_validate_or_say_why(case):
    fuzzing.check_validate_spec(case)


@fuzzing.budget(40)
@given(st.text(max_size=200))
def test_any_text_as_a_spec_file(text):
    fuzzing.check_validate_text(text)


@fuzzing.budget(60)
@given(fuzzing.SET_KEYS, st.text(max_size=30))
def test_generated_set_overrides(key, value):
    fuzzing.check_set(key, value)


@fuzzing.budget(6)
@given(fuzzing.mutated(json.loads(json.dumps(TINY)), small=True))
def test_mutated_tiny_specs_train_one_epoch_or_say_why(spec):
    fuzzing.check_train(spec)


@fuzzing.budget(12)
@given(damages=fuzzing.damages(), seed=st.integers(0, 2**16))
def test_damaged_run_folders_are_read_and_refused_cleanly(trained_run, damages, seed):
    fuzzing.check_damaged(trained_run, damages, seed)
