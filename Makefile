# Two commands do all set-up on a fresh Debian machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Real daemons the tests and the demo start on loopback (never as system services);
# chromium loads the status page headless in its test; debootstrap and systemd-container
# build and boot the real hosts (tests/test_real_host*.py, root only).
APT_PACKAGES := docker-registry nginx-light rsync prometheus prometheus-alertmanager \
	icinga2-bin monitoring-plugins-basic prometheus-node-exporter python3-venv chromium \
	debootstrap systemd-container
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint pytest deps venv bench clean alerts-check dashboards generated deb deb-test \
	deb-deps requirements test-latest drill

demo: deps venv
	$(BIN)/python -m demo

test: deps venv lint pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest $(PYTEST_ARGS)

# The fault drill (docs/pair.md "The fault drill"): runs every data-loss path on a
# loopback pair and rewrites its table in docs/pair.md (commit the result). Root.
drill: deps venv
	DRILL_WRITE=1 $(BIN)/pytest -p no:cacheprovider tests/test_fault_drill.py
	@echo "Seconds as measured (not committed):" && cat build/drill-seconds.txt

# Figures against the goals on synthetic registries (not part of `make test`; README
# "Performance"). BENCH_QUICK=1: a few minutes, without the large size.
bench: deps venv
	$(BIN)/python -m bench $(if $(BENCH_QUICK),--quick) $(BENCH_ARGS)

# promtool and amtool on alerts/ alone, for editing rules (make test runs these too, via pytest).
ALERT_RULES = $(filter-out %_test.yaml alerts/alertmanager.example.yaml,$(wildcard alerts/*.yaml))
alerts-check: deps
	promtool check rules --lint=all --lint-fatal $(ALERT_RULES)
	promtool test rules alerts/*_test.yaml
	amtool check-config alerts/alertmanager.example.yaml
	@if command -v pint >/dev/null; then pint --offline lint $(ALERT_RULES); \
	else echo "pint (cloudflare/pint) not installed: its lint skipped"; fi

# Regenerate dashboards/*.json from dashboards/build.py (commit the result).
dashboards: venv
	$(BIN)/python -m dashboards.build

# Rewrite every generated file from its source (commit the result; a test fails while one is
# stale): the alert thresholds from the config's Thresholds and alerts/thresholds.py, the
# objectives' rules and their promtool cases from alerts/slo.py and alerts/slo_tests.py,
# the dashboards from dashboards/ and the same thresholds.
generated: dashboards
	$(BIN)/python -m alerts.thresholds
	$(BIN)/python -m alerts.slo
	$(BIN)/python -m alerts.slo_tests

# The Debian package (docs/deployment.md): dh-virtualenv bundles deploy/requirements.txt.
# Built from a copy of the tree without what .gitignore names (venvs, caches, build/).
DEB_PACKAGES := dh-virtualenv debhelper help2man lintian dpkg-dev fakeroot rsync python3-venv
deb: deb-deps
	rm -rf build/deb && mkdir -p build/deb/src dist
	rsync -a --exclude=.git --filter=':- .gitignore' ./ build/deb/src/
	cd build/deb/src && dpkg-buildpackage -us -uc -b
	rm -f dist/registry-monitor_*.deb && cp build/deb/registry-monitor_*.deb dist/
	lintian --fail-on error dist/registry-monitor_*.deb

# Install the package on this host, check it as an operator would, purge it (root).
deb-test: deb venv
	$(BIN)/pytest -m deb tests/test_deb_package.py

deb-deps:
	@$(MAKE) --no-print-directory deps APT_PACKAGES="$(DEB_PACKAGES)"

RUNTIME_NAMES = $(shell sed -n 's/^\([A-Za-z0-9_.-]*\)==.*/\1/p' deploy/requirements.txt | paste -sd'|')

# Pin the runtime dependencies the package and the venv install use, from a clean venv.
requirements:
	rm -rf build/lock && $(PYTHON) -m venv build/lock
	build/lock/bin/pip install -q .
	{ sed -n '1,2p' deploy/requirements.txt; build/lock/bin/pip freeze --exclude registry-monitor; } \
		> deploy/requirements.txt.new && mv deploy/requirements.txt.new deploy/requirements.txt

deps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed

# The runtime set the package ships (deploy/requirements.txt) as constraints, so the
# tests run against exactly the versions users run and a new upstream release cannot
# turn an unchanged commit red; the test tools are pinned in pyproject.toml.
$(VENV)/.installed: pyproject.toml deploy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c deploy/requirements.txt -e '.[test]'
	touch $@

# The suite against the newest releases pyproject.toml's ranges admit, in a venv of its
# own: to try an upgrade before `make requirements` pins it. Not part of `make test`/CI.
LATEST := build/venv-latest
test-latest: deps
	rm -rf $(LATEST) && $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/pip install -q --upgrade pip
	$(LATEST)/bin/pip install -q --upgrade -e '.[test]'
	$(LATEST)/bin/pip freeze --exclude registry-monitor | grep -iE '^($(RUNTIME_NAMES))=='
	$(LATEST)/bin/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo-run build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
