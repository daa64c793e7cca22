# perf_toolkit — 预算绩效自评工具
# Every target works on a fresh clone with only Python 3.11+ (the venv is made on first use).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PT     := $(BIN)/perf-toolkit
STAMP  := $(VENV)/.installed
INBOX  := examples/inbox
CONFIG := examples/perf.toml

.PHONY: install test reports lint bench fuzz example install-pdf install-mail clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@echo "正在安装 perf_toolkit 及其依赖到 $(VENV)/（首次运行需要一两分钟）…"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade pip >$(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@$(BIN)/python -m pip install -e '.[test]' >>$(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	@touch $@

# -rs: every skipped test shows why (a missing LibreOffice says so and how to get it).
test: $(STAMP)
	$(BIN)/python -m pytest -q -rs

reports: $(STAMP)
	$(PT) run $(INBOX) --config $(CONFIG)

lint: $(STAMP)
	$(BIN)/ruff check perf_toolkit tests bench tools examples fuzz

bench: $(STAMP)
	$(BIN)/python bench/bench_read.py
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_round.py

# atheris over the reader (workbook and submission JSON) and the mail parser (.eml, .mbox, .zip), each target for
# FUZZ_SECONDS, seeded from the hostile corpus and the example inbox; a crash is saved under output/fuzz/crashes/.
# Not part of `make test` or CI.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	@$(BIN)/python -m pip install -e '.[fuzz]' >>$(VENV)/install.log 2>&1 || (cat $(VENV)/install.log; exit 1)
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

# Regenerate the shipped example workbook and the example inbox from their JSON sources.
example: $(STAMP)
	$(BIN)/python examples/make_examples.py

# LibreOffice, CJK fonts and Carlito (Calibri's metric twin, so sheets print as in Excel) for `--pdf`, and for the LibreOffice tests poppler-utils (reads the
# PDFs back) and python3-uno (only recommended by LibreOffice) (Debian/Ubuntu, as root).
install-pdf:
	apt-get update -qq
	apt-get install -y -qq libreoffice-writer-nogui libreoffice-calc-nogui fonts-noto-cjk fonts-crosextra-carlito poppler-utils python3-uno

# Dovecot for the IMAP tests: they start a private instance with its own config on loopback, so no
# system service is needed (Debian/Ubuntu, as root).
install-mail:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
	find output -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
