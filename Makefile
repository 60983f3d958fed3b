# Haitang: `make run` starts the bot (the local sandbox when no token is configured);
# `make test` installs everything into .venv and runs lint, type checks and the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck pytest bench clean chromium cjk-font

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
# Installed once, non-interactively, when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium for the browser tests"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			chromium; \
	fi

# A CJK font (Debian's fonts-noto-cjk): the /stats charts and the screenshots show Chinese
# with it. Installed once, non-interactively, when no font for Chinese is found.
CJK_FONT ?= /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

cjk-font:
	@if [ ! -f $(CJK_FONT) ] && ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing fonts-noto-cjk for the charts"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			fonts-noto-cjk; \
	fi

pytest: install chromium cjk-font
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
