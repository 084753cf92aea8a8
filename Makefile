# Two entry points for a fresh machine (Python 3.11 and make): `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# TensorFlow's own log level for its C++ runtime; regexp also holds back the lines it prints on
# import (absl, CUDA probing), which this variable does not reach (`regexp --verbose` shows them).
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test bench clean docs claims

# The stamp is rebuilt whenever pyproject.toml changes, so `make test` also updates .venv.
$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; run 'make PYTHON=/path/to/python3.11 ...'"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m compileall -q regexp  # bytecode now, even where PYTHONDONTWRITEBYTECODE is set
	touch $@

demo: $(BIN)/.installed
	$(BIN)/regexp train configs/quickstart.yaml

test: $(BIN)/.installed
	$(BIN)/ruff check regexp tests bench configs  # lint, import order, line length (pyproject.toml)
	tests/install-tools.sh
	$(BIN)/python -m pytest

# Benchmarks (minutes; not part of `make test`): the tables in bench/README.md come from these.
bench: $(BIN)/.installed
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/report_1000.py
	$(BIN)/python bench/report_10000.py
	$(BIN)/python bench/train_overhead.py
	$(BIN)/python bench/profile_run.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/sweep_throughput.py
	$(BIN)/python bench/sweep_noop.py
	$(BIN)/python bench/augment_placement.py
	$(BIN)/python bench/probes.py
	$(BIN)/python bench/packed.py speed
	$(BIN)/python bench/packed.py dist
	$(BIN)/python bench/packed.py scale
	$(BIN)/python bench/packed.py profile
	$(BIN)/python bench/interrupts.py
	$(BIN)/python bench/null_rates.py
	$(BIN)/python bench/decide.py
	$(BIN)/python bench/provenance.py
	$(BIN)/python bench/slurm.py

clean:
	rm -rf $(VENV) build site *.egg-info

# The documentation site (mkdocs.yml): first the generated reference pages, docs/spec.md from the spec
# models, docs/run-folder.md from the run-folder models and docs/reference/cli.md from the Typer app
# (Typer's own docs utility); tests check that all three are current and that the strict build passes.
# Then the site, strict (a broken link or anchor is an error), into site/ (git-ignored).
docs: $(BIN)/.installed
	$(BIN)/python -m regexp.views.reference spec > docs/spec.md
	$(BIN)/python -m regexp.views.reference run-folder > docs/run-folder.md
	$(BIN)/python -m typer regexp.cli utils docs --name regexp --title "The command line" --output docs/reference/cli.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet

# The claims suite (about 13 min on 2 cores): every spec in configs/claims/ on four datasets with 10
# seeds per arm, then docs/claims.md from `regexp report --across data`. Its runs go to runs/claims/ (never committed).
claims: $(BIN)/.installed
	rm -rf runs/claims
	$(BIN)/python configs/claims/run.py --runs-dir runs/claims --out docs/claims.md --workers 2
