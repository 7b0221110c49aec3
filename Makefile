# `make run` and `make test` do all set-up themselves: the first call creates .venv and
# installs the project with its test extras; later calls skip that unless pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean system-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ims demo --if-empty
	$(BIN)/ims

# Tests run on every core (pytest-xdist); each test makes its own stores, ports and terminals.
# CI (.ci/run sets IMS_TEST_REQUIRE_POSTGRES=1) runs every test; elsewhere the tests marked slow
# (racing processes, kill -9 runs, long property runs) are left out unless IMS_TEST_SLOW=1.
SLOW_TESTS := $(if $(filter 1,$(IMS_TEST_REQUIRE_POSTGRES) $(IMS_TEST_SLOW)),,-m "not slow")

test: system-packages $(STAMP)
	$(BIN)/python -m pytest -n auto $(SLOW_TESTS) $(PYTEST_ARGS)

# The Debian packages the serving tests drive (ssh, sshd, tmux, chromium); quick when present.
system-packages:
	bash .ci/system-packages

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
