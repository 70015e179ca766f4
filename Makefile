# expbook: the front door. `make book` and `make test` set everything up on a fresh machine.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
EXP ?=
P ?=
J ?=
# J=1 runs the notebooks one after another; empty = every core (one experiment per process)
JOBS := $(if $(J),-j $(J),)
T ?=
# T=600 stops any run still going after 600 s (kernel and workers), kept as a failed run; empty = each notebook's default
TIMEOUT := $(if $(T),--timeout $(T),)
# P="seed=7 gate_margin=-0.02" -> -p seed=7 -p gate_margin=-0.02
RUN_ARGS := $(foreach p,$(P),-p '$(p)')

.PHONY: help setup book run new check test bench serve status clean release publish gc

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# uv installs the requirements in seconds where pip takes two minutes. It does not read pip's configuration, so it is
# given the wheel folders pip is configured with (this machine's CPU build of torch is one); `=` evaluates this only
# when an install runs. It compiles the bytecode as pip does: with PYTHONDONTWRITEBYTECODE set (as on this machine),
# every kernel and worker would otherwise compile torch again on import (25 s against 5 s)
UV_VERSION := 0.13.9
FIND_LINKS = $(shell $(PYTHON) -m pip config list 2>/dev/null | sed -n "s/^[^.]*\.find-links='\(.*\)'$$/\1/p" | sort -u)

$(INSTALLED): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) $(addprefix --find-links ,$(FIND_LINKS)) -r requirements.txt
	$(PY) -m ipykernel install --sys-prefix --name expbook --display-name "expbook (.venv)" >/dev/null
	@touch $@

CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser test"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

setup: $(INSTALLED) ## create .venv, install the pinned requirements and the `expbook` Jupyter kernel

book: $(INSTALLED) ## execute every notebook whose inputs changed (in parallel; J=1 for one at a time; T=secs), then build the site
	@$(PY) -m expbook build $(JOBS) $(TIMEOUT)

run: $(INSTALLED) ## run one notebook: make run EXP=recall_rerank P="seed=7 gate_margin=-0.02"
	@test -n "$(EXP)" || { echo "usage: make run EXP=<experiment> P=\"name=value ...\"" >&2; exit 2; }
	$(PY) -m expbook run $(EXP) $(RUN_ARGS) $(TIMEOUT)

new: $(INSTALLED) ## start an experiment: make new EXP=churn_model writes its notebook, module and tests
	@test -n "$(EXP)" || { echo "usage: make new EXP=<name>" >&2; exit 2; }
	$(PY) -m expbook new $(EXP)

check: $(INSTALLED) ## check every notebook against the contract (parameters with ranges, EXPERIMENT, record, no def)
	$(PY) -m expbook check

release: $(INSTALLED) ## freeze the built site as version V: make release V=v1 (FORCE=1 to replace or release stale reports)
	@test -n "$(V)" || { echo "usage: make release V=<name>" >&2; exit 2; }
	$(PY) -m expbook release $(V) $(if $(FORCE),--force,)

publish: $(INSTALLED) ## put every release on the gh-pages branch with ghp-import and push it (REMOTE=origin)
	$(PY) -m expbook publish --remote $(or $(REMOTE),origin)

gc: $(INSTALLED) ## list old failed and variant runs (KEEP=N newest kept, AGE=30d); YES=1 removes them
	$(PY) -m expbook gc $(if $(KEEP),--keep $(KEEP),) $(if $(AGE),--older-than $(AGE),) $(if $(YES),--yes,)

status: $(INSTALLED) ## show each experiment's canonical run and whether (and why) it is stale
	$(PY) -m expbook status

test: $(INSTALLED) $(CHROMIUM) ## lint, then the test suite (unit tests, tiny notebook executions, a strict site build)
	$(PY) -m ruff check src tests bench
	$(PY) -m expbook check
	$(PY) -m pytest -q

bench: $(INSTALLED) ## print performance tables (not part of make test)
	$(PY) bench/bench_two_stage.py
	$(PY) bench/bench_store.py
	$(PY) bench/bench_parallel_book.py
	$(PY) bench/bench_class_imbalance.py
	$(PY) bench/bench_gnn_turnover.py
	$(PY) bench/bench_seqrec.py

serve: ## serve the built site on http://127.0.0.1:8000
	$(PY) -m http.server --directory book/_build/html --bind 127.0.0.1 8000

clean: ## remove the site build and generated pages (keeps runs/ and .venv)
	rm -rf book/_build book/_toc.yml book/_config.generated.yml book/overview.md book/reports book/history book/runs \
		book/compare book/sweeps book/_fragments book/.site-next book/.site-old book/.build-stamp
