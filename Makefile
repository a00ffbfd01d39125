# b2b-insights: `make reports` and `make test` do all the set-up on a fresh clone.
# Every target has a `## ` comment: `make help` lists them.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
KERNEL := b2b-insights
# Set-up is keyed to this checkout: the stamp's name is a hash of the checkout's absolute path
# and of pyproject.toml's dependency lists (src/helpers/runner/checkout.py, standard library
# only); `make setup` refuses a .venv that belongs to another checkout before installing.
CHECKOUT_PY := $(PYTHON) -P src/helpers/runner/checkout.py
SETUP_KEY   := $(or $(shell $(CHECKOUT_PY) key 2>/dev/null),unknown)
STAMP  := $(VENV)/.installed-$(SETUP_KEY)
DEMO   := data/demo/.complete
BATCH  ?= runs/default.yaml
JOBS   ?= 2
SOURCE ?= demo
# Import the package from this checkout even when .venv is shared with another worktree.
export PYTHONPATH := $(CURDIR)/src$(if $(PYTHONPATH),:$(PYTHONPATH))

.DEFAULT_GOAL := help
.PHONY: help setup data reports pdf test test-slow test-spark lint lab clean clean-cache bench mutants

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create this checkout's .venv, install the package editable with dev extras, register the kernel

$(STAMP):
	@$(CHECKOUT_PY) guard $(VENV)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# uv installs the same versions in seconds where pip takes about two minutes; pip alone
	# when uv cannot be had (no network for it) or fails
	($(PY) -m pip install --quiet uv && $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]') \
		|| $(PY) -m pip install --quiet -e '.[dev]'
	# jsonschema's optional IRI syntax checker (rfc3987-syntax, pulled in by jupyter-events'
	# format-nongpl extra) builds an Earley parser when imported: about 3 s of CPU in every
	# process that imports nbformat (each pytest worker, each batch run). Nothing here validates
	# IRIs and jsonschema skips the format without it, so it is removed (with lark, its parser).
	$(PY) -m pip uninstall --quiet -y rfc3987-syntax lark
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python 3.11 (b2b-insights)" > /dev/null
	rm -f $(VENV)/.installed $(VENV)/.installed-*
	$(CHECKOUT_PY) stamp $(STAMP)

data: $(DEMO) ## Build the demo data set in data/demo/ (seeded: same seed, same bytes)

$(DEMO): $(STAMP) $(wildcard src/helpers/demo/*.py)
	$(PY) -m helpers.demo --out data/demo

reports: $(STAMP) $(DEMO) ## Run every notebook (batch $(BATCH)) and render HTML reports into reports/
	$(PY) -m helpers.runner.batch run $(BATCH) --jobs $(JOBS)

pdf: $(STAMP) ## Print every leadership summary under reports/ to summary.pdf (needs Chromium)
	$(PY) -m helpers.runner.pdf $(patsubst %/runs.json,%,$(wildcard reports/*/runs.json))

.PHONY: check
check: $(STAMP) ## Check a data source before any study: make check SOURCE=path/to/source.yaml
	$(PY) -m helpers.check $(SOURCE)

# Two pytest workers on two cores: one thread each for BLAS, OpenMP and DuckDB (as batch kernels
# get, runner.execute.kernel_environment); wider pools only fight over the same cores.
TEST_THREADS := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 B2B_DUCKDB_THREADS=1

test: $(STAMP) $(DEMO) ## Run all tests: unit, bad input, planted truths, notebook hygiene and nbval runs
	$(TEST_THREADS) $(PY) -m pytest -n $(JOBS) --dist loadfile -m "not slow and not spark" --nbval-lax --nbval-kernel-name $(KERNEL) tests notebooks

test-spark: $(STAMP) $(DEMO) ## Spark parity: engine-side steps on local Spark = DuckDB (needs .[spark] and Java)
	$(PY) -m pytest -m spark tests

test-slow: $(STAMP) $(DEMO) ## Run the slow checks (interval coverage over many simulations, a rerun of the default batch gives identical metrics, nbval of notebooks 02 and 03)
	$(TEST_THREADS) $(PY) -m pytest -n $(JOBS) --dist loadfile -m slow --nbval-lax --nbval-kernel-name $(KERNEL) tests notebooks

mutants: $(STAMP) $(DEMO) ## Plant eight statistical mistakes one by one; the tests must catch each (minutes)
	$(PY) tests/mutants.py

lint: $(STAMP) ## ruff on src/, tests/, benchmarks/ and notebooks/
	$(PY) -m ruff check src tests benchmarks notebooks
	$(PY) -m ruff format --check src tests benchmarks notebooks

# JupyterLab refuses to start as root (containers, CI) unless told --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP) $(DEMO) ## Start JupyterLab on the project's kernel (as root too, e.g. in a container)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT)

bench: $(STAMP) $(DEMO) ## Run every benchmark (minutes each); figures go to docs/benchmarks.md
	# the peers and probes the benchmarks use (lifetimes, psutil): the `bench` extra
	($(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[bench]') || $(PY) -m pip install --quiet -e '.[bench]'
	$(PY) benchmarks/bench_features.py
	$(PY) benchmarks/bench_features_sql.py
	$(PY) benchmarks/bench_batch.py
	$(PY) benchmarks/bench_survival.py
	$(PY) benchmarks/bench_concordance.py
	$(PY) benchmarks/bench_attribution.py
	$(PY) benchmarks/bench_hotspots.py
	$(PY) benchmarks/bench_segmentation.py
	$(PY) benchmarks/bench_cache.py
	$(PY) benchmarks/bench_validation.py
	$(PY) benchmarks/bench_scale.py

clean-cache: ## Remove the load-once cache of validated data sets (B2B_CACHE_DIR, else ~/.cache/b2b-insights)
	$(PYTHON) -c "import os, pathlib, shutil; d = os.environ.get('B2B_CACHE_DIR') or pathlib.Path.home() / '.cache' / 'b2b-insights'; shutil.rmtree(d, ignore_errors=True); print('removed', d)"

clean: ## Remove generated data, reports and caches (keeps .venv; `rm -rf .venv` for a full reset)
	rm -rf data/demo data/bench .pytest_cache .ruff_cache
	find reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
