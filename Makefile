# Two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= etc/nova-aggregates-dev.conf
# pbr reads the version from git; a checkout without tags (or a tarball)
# still installs.
export PBR_VERSION ?= 0.1.0

# Services the functional tests run as real servers, each in its own venv
# under .services/ (their dependencies need not agree with ours).
SERVICES := .services
KEYSTONE_PACKAGES ?= keystone==30.0.0 gunicorn

.PHONY: serve test venv services bench pep8 genconfig genpolicy clean

$(BIN)/.installed: requirements.txt test-requirements.txt setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

venv: $(BIN)/.installed

# tools/service-venv.sh does nothing when the venv already holds exactly
# these packages; Makefile is a prerequisite so that a change of
# KEYSTONE_PACKAGES reaches it.
$(SERVICES)/keystone/.installed: tools/service-venv.sh Makefile
	PYTHON=$(PYTHON) tools/service-venv.sh keystone $(KEYSTONE_PACKAGES)

services: $(SERVICES)/keystone/.installed

serve: venv
	mkdir -p var
	$(BIN)/nova-aggregates-manage --config-file $(CONFIG) db sync
	$(BIN)/nova-aggregates-api --config-file $(CONFIG)

# Whatever the run's outcome, close with what was skipped and why.
test: venv services
	$(BIN)/stestr run $(TESTS); status=$$?; \
	    $(BIN)/python tools/test-summary.py; exit $$status

bench: venv
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

pep8: venv
	$(BIN)/flake8

genconfig: venv
	$(BIN)/oslo-config-generator --config-file etc/oslo-config-generator.conf

genpolicy: venv
	$(BIN)/oslopolicy-sample-generator --config-file etc/oslo-policy-generator.conf

clean:
	rm -rf $(VENV) $(SERVICES) var .stestr
