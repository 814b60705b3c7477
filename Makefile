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
# Nova's compute API and Placement, with what our package needs at import
# that Nova does not pull in (gunicorn serves both; our filter and virt
# drivers import XenAPI and defusedxml, our database layer taskflow and
# tooz).  The openstack and nova clients are in .venv.
NOVA_PACKAGES ?= nova==34.0.0 openstack-placement==16.0.0 gunicorn XenAPI \
	defusedxml taskflow tooz
NOVA_VENV := $(SERVICES)/nova

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

# Nova's venv, then this checkout installed into it (editable, no deps) so
# that our entry points (oslo.config opts, virt drivers, paste factories)
# exist in Nova's processes.  The stamp service-venv.sh leaves is backdated
# at once and only touched again once our install is done: an interrupted or
# failed install leaves it older than its prerequisites, so the next make
# redoes the install (service-venv.sh then finds its packages in place and
# rebuilds nothing).  .PRECIOUS: an interrupt must not delete the stamp, or
# the whole venv would be rebuilt.
.PRECIOUS: $(NOVA_VENV)/.installed
$(NOVA_VENV)/.installed: tools/service-venv.sh Makefile setup.cfg setup.py
	PYTHON=$(PYTHON) tools/service-venv.sh nova $(NOVA_PACKAGES)
	touch -t 197001010000 $@
	$(NOVA_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

services: $(SERVICES)/keystone/.installed $(NOVA_VENV)/.installed

# make serve PLACEMENT=1: the same, mirroring aggregates into a local
# Placement from the Nova venv on 127.0.0.1:$(PLACEMENT_PORT) (its files in
# var/placement/; tools/serve-placement.py), stopped with the server.
PLACEMENT ?=
PLACEMENT_PORT ?= 8778

serve: venv $(if $(filter 1,$(PLACEMENT)),$(NOVA_VENV)/.installed)
	mkdir -p var
	$(BIN)/nova-aggregates-manage --config-file $(CONFIG) db sync
ifeq ($(PLACEMENT),1)
	$(BIN)/python tools/serve-placement.py --config-file $(CONFIG) \
	    --port $(PLACEMENT_PORT)
else
	$(BIN)/nova-aggregates-api --config-file $(CONFIG)
endif

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
