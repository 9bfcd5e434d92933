# Starling: `make demo` runs the product on SQLite with no servers; `make test` runs the test suite
# against real PostgreSQL, Redis, a Celery worker and Debian's chromium (started/installed if missing).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-slow imports lint format bench bench-mc-scoring bench-active-learning \
        bench-serving bench-pool-scale bench-round-time bench-active-learning-smoke bench-retirement bench-first-round bench-transfer \
        bench-levers bench-volunteers bench-first-model-minimum \
        services clean \
        reliability-doc docs-figures

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ml,dev]'
	@touch $(STAMP)

services:
	bash scripts/ensure-services.sh

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) services imports
	$(PY) -m pytest

# The import contracts in pyproject.toml: layers one way, no cycles, mlworker without Django.
imports: $(STAMP)
	$(VENV)/bin/lint-imports

# Everything but the long fault tests (`-m slow`), for a quick loop while coding.
test-fast: $(STAMP) services imports
	$(PY) -m pytest -m "not slow"

test-slow: $(STAMP) services
	$(PY) -m pytest -m slow

# The figures the docs show, from the tests that take them (which still assert what they show):
# the browser tests' screenshots in docs/screenshots/, the fault tests' counts in
# docs/reliability.json and docs/reliability.md's table. Every other test run writes them to
# test-artifacts/docs/ (git-ignored) and leaves docs/ alone.
DOCS_FIGURE_TESTS := tests/faults tests/labelling/volunteer/test_browser_volunteer.py \
                     tests/labelling/staff/test_browser_dashboard.py \
                     tests/labelling/staff/test_browser_own_project.py
docs-figures: $(STAMP) services
	STARLING_WRITE_DOCS=1 $(PY) -m pytest $(DOCS_FIGURE_TESTS)

# docs/reliability.md's table of measured counts, redrawn from docs/reliability.json.
reliability-doc: $(STAMP)
	$(PY) scripts/reliability_doc.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: bench-mc-scoring bench-round-time bench-serving bench-pool-scale bench-active-learning \
       bench-retirement bench-transfer

bench-mc-scoring: $(STAMP)
	$(PY) benchmarks/mc_scoring.py
	$(PY) benchmarks/readme_figures.py

# Today's model (scratch) against the new default, random and BALD, on the synthetic galaxies and
# on fluorescence cells (issue 25), 8 seeds each. Several hours on 2 cores: each finished seed is
# kept in benchmarks/results/<output>.partial.json and `--resume` runs only the missing ones; the
# galaxies' last call, with every seed done, only re-summarises to carry the cells' savings.
AL_RUN := $(PY) benchmarks/active_learning.py --preset standard --seeds 8 --jobs 2 --resume
bench-active-learning: $(STAMP)
	$(AL_RUN)
	@mkdir -p var && test -f var/cells.npz || $(PY) benchmarks/datasets/cells.py var/cells.npz --n 4000 --size 32 --seed 25
	$(AL_RUN) --dataset var/cells.npz --output active_learning_cells
	$(AL_RUN)
	$(PY) benchmarks/readme_figures.py

bench-active-learning-smoke: $(STAMP)
	$(PY) benchmarks/active_learning.py --preset smoke --output active_learning_smoke

# Fixed 15-vote retirement against model-aware retirement (issue 14); one core is enough.
bench-retirement: $(STAMP)
	$(PY) benchmarks/retirement.py
	$(PY) benchmarks/readme_figures.py

# How many labelled subjects a first retrain waits for (issue 28's default).
bench-first-model-minimum: $(STAMP)
	$(PY) benchmarks/first_model_minimum.py --seeds 6 --jobs 2
	$(PY) benchmarks/readme_figures.py

# Careless and hostile volunteers: clean crowd, bad crowd unweighted and weighted (issue 26).
bench-volunteers: $(STAMP)
	$(PY) -m pip install --quiet -e '.[ml,dev,compare]'
	$(PY) benchmarks/volunteers.py --jobs 2 --crowd-kit --resume
	$(PY) benchmarks/readme_figures.py

# Fine-tuning a survey-A model against random weights on a shifted survey B, 6 seeds (issue 15).
bench-transfer: $(STAMP)
	$(PY) benchmarks/transfer.py --jobs 2
	$(PY) benchmarks/readme_figures.py

# A screen of levers for first models (issue 25): 6 seeds, galaxies and cells, 100 and 300 labels.
# Three screens, as they were run: the first four levers; overdispersion, pooling and sizes; and
# consistency on unlabelled images (--resume: a screen cut short goes on from its last seed).
bench-levers: $(STAMP)
	$(PY) benchmarks/levers.py --seeds 6 --jobs 2 --levers symmetries,temperature,ensemble,pretrained
	$(PY) benchmarks/levers.py --seeds 6 --jobs 2 --output levers_more \
	    --levers symmetries,overdispersion,pooled,combined,selection
	$(PY) benchmarks/levers.py --seeds 6 --jobs 2 --output levers_consistency --resume \
	    --levers consistency --consistency-weight 10
	$(PY) benchmarks/readme_figures.py

# Round 0 alone over 10 seeds: is a first model better than ignoring the image? (issue 11)
bench-first-round: $(STAMP)
	$(PY) benchmarks/first_round.py --seeds 10 --jobs 2
	$(PY) benchmarks/readme_figures.py

bench-round-time: $(STAMP)
	$(PY) benchmarks/round_time.py
	$(PY) benchmarks/readme_figures.py

bench-serving: $(STAMP) services
	$(PY) benchmarks/serving.py --readme

bench-pool-scale: $(STAMP) services
	$(PY) benchmarks/pool_scale.py
	$(PY) benchmarks/readme_figures.py

clean:
	rm -rf var/test test-artifacts .pytest_cache
