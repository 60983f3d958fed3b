# Haitang: `make run` starts the bot (the local sandbox when no token is configured);
# `make test` installs everything into .venv and runs lint, type checks and the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck pytest bench clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	@if [ -n "$$HAITANG_BOT_TOKEN" ] || grep -qs '^HAITANG_BOT_TOKEN=..*' .env; then \
		$(BIN)/haitang run; \
	else \
		$(BIN)/haitang sandbox; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The browser tests (tests/web) drive Debian's chromium; `playwright install` is never used.
# Installed once, non-interactively, when missing (with a CJK font for legible screenshots).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium for the browser tests"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			chromium fonts-noto-cjk; \
	fi

pytest: install chromium
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
