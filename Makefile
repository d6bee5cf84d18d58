# gateway: `make run` serves, `make test` tests. Both install what is missing first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
BIND   ?= 127.0.0.1:8080
# one pytest-xdist worker per core, each module's tests on one worker (its gunicorn starts once);
# `make test PYTEST_ARGS=` runs in one process
PYTEST_ARGS ?= -n auto --dist loadscope
# Debian packages: a compiler and headers for M2Crypto (swig, libssl-dev), gpg and openssl for
# the crypto module and its tests, PostgreSQL's client library for psycopg
APT_PACKAGES := build-essential swig libssl-dev gnupg openssl libpq5 ca-certificates
# only for `make test`: PHP's SoapClient and Perl's SOAP::Lite (Znuny's own SOAP stack) are real
# clients the tests drive; Chromium and its WebDriver drive the admin pages (tests/browser.py); PostgreSQL's
# server runs the PostgreSQL half on a private cluster when GATEWAY_TEST_POSTGRES_URL names none; systemd's
# systemd-analyze checks the units, nginx runs conf/nginx/gateway.conf in front of gunicorn
TEST_APT_PACKAGES := php-cli php-soap libsoap-lite-perl chromium chromium-driver postgresql systemd nginx
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test wsdl bench bench-znuny fuzz lint system-packages test-packages

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py
	@$(MAKE) --no-print-directory system-packages
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if ! command -v $(PYTHON) >/dev/null; then missing="$$missing python3.11 python3.11-venv python3.11-dev"; \
	elif ! $(PYTHON) -c 'import ensurepip' 2>/dev/null; then missing="$$missing python3.11-venv"; fi; \
	if [ -n "$$missing" ]; then echo "Installing system packages:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test-packages:
	@$(MAKE) --no-print-directory system-packages APT_PACKAGES="$(TEST_APT_PACKAGES)"

run: install
	$(BIN)/gateway setup
	@echo ""
	@echo "gateway serves on http://$(BIND)/"
	@echo "  REST: http://$(BIND)/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorREST/Session"
	@echo "  SOAP: http://$(BIND)/otrs/nph-genericinterface.pl/Webservice/GenericTicketConnectorSOAP  (WSDL: ?wsdl)"
	@echo "  health: http://$(BIND)/health"
	@echo "  admin pages: http://$(BIND)/admin/  (log in as root@localhost with the password \`gateway setup\` printed on its first run)"
	@echo "  mail: ArticleSend e-mails are delivered by the mail worker started beside the server (SMTP: the smtp_* settings, see \`gateway settings\`)"
	@echo ""
	@# the mail worker runs beside the server and stops with it (a background job ignores Ctrl-C)
	$(BIN)/gateway mail-worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(BIN)/gateway serve --bind $(BIND)

test: install test-packages
	$(BIN)/pytest $(PYTEST_ARGS)

wsdl: install
	$(BIN)/gateway wsdl --output-dir wsdl

bench: install
	@command -v wrk >/dev/null || $(SUDO) apt-get install -y -qq wrk
	$(BIN)/python tests/bench/run.py

# gateway on PostgreSQL next to the Znuny oracle of ../shared/oracle (running on 127.0.0.1:8089), through its
# compare.py, at 4 connections and at 1 (ZNUNY_BENCH_CONNS, _DURATION, _ROUNDS, _ONLY: tests/bench/znuny.py)
bench-znuny: install
	@command -v wrk >/dev/null || $(SUDO) apt-get install -y -qq wrk
	$(BIN)/python tests/bench/znuny.py

# schemathesis against every REST web service's OpenAPI document, on SQLite and PostgreSQL
# (GATEWAY_TEST_POSTGRES_URL, default postgresql:///postgres); FUZZ_EXAMPLES per operation, FUZZ_SEED
fuzz: install
	@$(BIN)/python -c 'import schemathesis' 2>/dev/null || $(BIN)/pip install --quiet -e '.[test,fuzz]'
	$(BIN)/python tests/fuzz/run.py

# the style and type checks CI runs before the tests (mypy's settings: pyproject.toml)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
