# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CPU PyTorch; on a CUDA machine, install the torch build you want into the venv first.
TORCH  ?= torch==2.13.0

.PHONY: setup test lint bench demo world docs docs-serve clean browser java

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

test: setup browser java
	$(BIN)/python -m pytest -q --durations=15

# Browser tests use Debian's chromium + chromium-driver; install them when missing (as root,
# ~20 s). Without root the browser tests skip and say why.
CHROMIUM_BINS := /usr/bin/chromium /usr/bin/chromedriver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium + chromium-driver for the browser tests (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver >/dev/null; } \
		|| echo "WARNING: could not install chromium; browser tests will be skipped"; \
	else \
		echo "NOTE: $(CHROMIUM_BINS) missing and not root: browser tests will be skipped" \
		     "(run: sudo apt-get install chromium chromium-driver)"; \
	fi

# Caption metrics call pycocoevalcap's PTB tokenizer, a Java program: install Debian's
# default-jre-headless when java is missing (as root). Without it those tests skip and say why.
java:
	@if command -v java >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing default-jre-headless for the caption metrics (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends \
			default-jre-headless >/dev/null; } \
		|| echo "WARNING: could not install java; caption metric tests will be skipped"; \
	else \
		echo "NOTE: java missing and not root: caption metric tests will be skipped" \
		     "(run: sudo apt-get install default-jre-headless)"; \
	fi

lint: setup
	$(BIN)/ruff check src tests benchmarks docs/hooks
	$(BIN)/ruff format --check src tests benchmarks docs/hooks

bench: setup
	$(BIN)/python benchmarks/run_all.py

demo: setup
	$(BIN)/globelens demo

world: setup
	$(BIN)/globelens world build out/world

# The documentation site, offline (no fonts or scripts from the network), warnings as errors;
# open site/index.html. The command-line reference is generated from the commands.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The built site on http://127.0.0.1:8000 (search needs a server: browsers refuse its worker
# to pages opened from file://).
docs-serve: docs
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory site 8000

clean:
	rm -rf $(VENV) out runs site .pytest_cache .ruff_cache
