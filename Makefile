# Two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= etc/nova-aggregates-dev.conf
# pbr reads the version from git; a checkout without tags (or a tarball)
# still installs.
export PBR_VERSION ?= 0.1.0

.PHONY: serve test venv bench pep8 genconfig genpolicy clean

$(BIN)/.installed: requirements.txt test-requirements.txt setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

serve: venv
	mkdir -p var
	$(BIN)/nova-aggregates-manage --config-file $(CONFIG) db sync
	$(BIN)/nova-aggregates-api --config-file $(CONFIG)

test: venv
	$(BIN)/stestr run $(TESTS)

bench: venv
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

pep8: venv
	$(BIN)/flake8

genconfig: venv
	$(BIN)/oslo-config-generator --config-file etc/oslo-config-generator.conf

genpolicy: venv
	$(BIN)/oslopolicy-sample-generator --config-file etc/oslo-policy-generator.conf

clean:
	rm -rf $(VENV) var .stestr
