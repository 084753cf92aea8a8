# Two entry points for a fresh machine (Python 3.11 and make): `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Quiet TensorFlow's C++ start-up chatter (CUDA probing, CPU feature notes).
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test clean

# The stamp is rebuilt whenever pyproject.toml changes, so `make test` also updates .venv.
$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; run 'make PYTHON=/path/to/python3.11 ...'"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/regexp train configs/quickstart.yaml

test: $(BIN)/.installed
	tests/install-chromium.sh
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info
