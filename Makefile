# Starling: `make demo` runs the product on SQLite with no servers; `make test` runs the test suite
# against real PostgreSQL, Redis, a Celery worker and Debian's chromium (started/installed if missing).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-slow imports lint format bench bench-mc-scoring bench-active-learning \
        bench-serving bench-pool-scale bench-round-time bench-scoring-cost bench-active-learning-smoke bench-retirement bench-first-round bench-transfer \
        bench-levers bench-volunteers bench-first-model-minimum bench-survey \
        services clean \
        reliability-doc docs-figures

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[ml,dev,bench]'
	@touch $(STAMP)

services:
	bash scripts/ensure-services.sh

demo: $(STAMP)
	bash scripts/demo.sh

# Serial: under pytest-xdist (`pytest -n 2`, which tests/settings.py supports with a Redis
# database per process) the loop's worker-kill and recovery tests timed out in every run so far.
test: $(STAMP) services imports
	$(PY) -m pytest

# The import contracts in pyproject.toml: layers one way, no cycles, mlworker without Django.
imports: $(STAMP)
	$(VENV)/bin/lint-imports

# Everything but the long fault tests (`-m slow`) and the benchmarks' tiny runs (`-m benchmark`),
# for a quick loop while coding.
test-fast: $(STAMP) services imports
	$(PY) -m pytest -m "not slow and not benchmark"

test-slow: $(STAMP) services
	$(PY) -m pytest -m slow

# The figures the docs show, from the tests that take them (which still assert what they show):
# the browser tests' screenshots in docs/screenshots/, the fault tests' counts in
# docs/reliability.json and docs/reliability.md's table. Every other test run writes them to
# test-artifacts/docs/ (git-ignored) and leaves docs/ alone.
DOCS_FIGURE_TESTS := tests/faults tests/labelling/volunteer/test_browser_volunteer.py \
                     tests/labelling/staff/test_browser_dashboard.py \
                     tests/labelling/staff/test_browser_own_project.py \
                     tests/labelling/staff/test_browser_teams.py
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

bench: bench-mc-scoring bench-round-time bench-scoring-cost bench-serving bench-pool-scale \
       bench-active-learning \
       bench-retirement bench-transfer

bench-mc-scoring: $(STAMP)
	$(PY) -m benchmarks.mc_scoring
	$(PY) -m benchmarks.readme_figures

# Today's model (scratch) against the new default, random and BALD, on the synthetic galaxies, on
# fluorescence cells (issue 25) and on crops of a real immunohistochemistry slide (issue 42), the
# standard preset's seeds each. Several hours on 2 cores: each finished seed is kept in
# benchmarks/results/<output>.partial.json and `--resume` runs only the missing ones; the
# galaxies' last call, with every seed done, only re-summarises to carry the other kinds' figures.
AL_RUN := $(PY) -m benchmarks.active_learning --preset standard --jobs 2 --resume
bench-active-learning: $(STAMP)
	$(AL_RUN)
	@mkdir -p var && test -f var/cells.npz || $(PY) -m benchmarks.datasets.cells var/cells.npz --n 4000 --size 32 --seed 25
	$(AL_RUN) --dataset var/cells.npz --output active_learning_cells
	@test -f var/tissue.npz || $(PY) -m benchmarks.datasets.tissue var/tissue.npz --n 4000 --size 32 --seed 42
	$(AL_RUN) --dataset var/tissue.npz --output active_learning_tissue
	$(AL_RUN)
	$(PY) -m benchmarks.readme_figures

bench-active-learning-smoke: $(STAMP)
	$(PY) -m benchmarks.active_learning --preset smoke --output active_learning_smoke

# A survey start to finish (issue 39): Starling's loop against Galaxy Zoo's classic one, every arm a
# project run through production's own functions, on the synthetic galaxies and on the cells, the
# standard preset's seeds each (within 3 hours on this 2-core machine: benchmarks/survey.py says
# why). Each finished seed is kept in benchmarks/results/survey_<images>.partial.json (`--resume`);
# both runs write their part of benchmarks/results/survey.json.
SURVEY_RUN := $(PY) -m benchmarks.survey --preset standard --jobs 2 --resume
bench-survey: $(STAMP)
	$(SURVEY_RUN)
	@mkdir -p var && test -f var/cells.npz || $(PY) -m benchmarks.datasets.cells var/cells.npz --n 4000 --size 32 --seed 25
	$(SURVEY_RUN) --dataset var/cells.npz
	$(PY) -m benchmarks.readme_figures

# Fixed 15-vote retirement against model-aware retirement (issue 14); one core is enough.
bench-retirement: $(STAMP)
	$(PY) -m benchmarks.retirement
	$(PY) -m benchmarks.readme_figures

# How many labelled subjects a first retrain waits for (issue 28's default).
bench-first-model-minimum: $(STAMP)
	$(PY) -m benchmarks.first_model_minimum --seeds 6 --jobs 2
	$(PY) -m benchmarks.readme_figures

# Careless and hostile volunteers: clean crowd, bad crowd unweighted and weighted (issue 26).
bench-volunteers: $(STAMP)
	$(PY) -m pip install --quiet -e '.[ml,dev,bench,compare]'
	$(PY) -m benchmarks.volunteers --jobs 2 --crowd-kit --resume
	$(PY) -m benchmarks.readme_figures

# Fine-tuning a survey-A model against random weights on a shifted survey B, 6 seeds (issue 15).
bench-transfer: $(STAMP)
	$(PY) -m benchmarks.transfer --jobs 2
	$(PY) -m benchmarks.readme_figures

# A screen of levers for first models (issue 25): 6 seeds, galaxies and cells, 100 and 300 labels.
# Four screens, as they were run: the first four levers; overdispersion, pooling and sizes;
# consistency on unlabelled images; and the default's scoring under fewer views (issue 39: scoring
# variants of the same fits, so 4 seeds) (--resume: a screen cut short goes on from its last seed).
bench-levers: $(STAMP)
	$(PY) -m benchmarks.levers --seeds 6 --jobs 2 --levers symmetries,temperature,ensemble,pretrained
	$(PY) -m benchmarks.levers --seeds 6 --jobs 2 --output levers_more \
	    --levers symmetries,overdispersion,pooled,combined,selection
	$(PY) -m benchmarks.levers --seeds 6 --jobs 2 --output levers_consistency --resume \
	    --levers consistency --consistency-weight 10
	$(PY) -m benchmarks.levers --seeds 4 --jobs 2 --output levers_views --resume \
	    --levers pooled,combined,views_8,views_4,views_2
	$(PY) -m benchmarks.readme_figures

# Round 0 alone over 10 seeds: is a first model better than ignoring the image? (issue 11)
bench-first-round: $(STAMP)
	$(PY) -m benchmarks.first_round --seeds 10 --jobs 2
	$(PY) -m benchmarks.readme_figures

bench-round-time: $(STAMP)
	$(PY) -m benchmarks.round_time
	$(PY) -m benchmarks.readme_figures

# What scoring an image costs on the default model against one network, stage by stage, at 16 and
# 64 px, and under fewer views (issue 39).
bench-scoring-cost: $(STAMP)
	$(PY) -m benchmarks.scoring_cost
	$(PY) -m benchmarks.readme_figures

bench-serving: $(STAMP) services
	$(PY) -m benchmarks.serving --readme

bench-pool-scale: $(STAMP) services
	$(PY) -m benchmarks.pool_scale
	$(PY) -m benchmarks.readme_figures

clean:
	rm -rf var/test test-artifacts .pytest_cache
