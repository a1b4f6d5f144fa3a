# The two commands of the README: `make run` and `make test`.
GO ?= go
BIN := bin/helpdesk
# Packages under test; PostgreSQL, Redis, Dovecot and Chromium are started
# privately by the tests themselves (see internal/testserver).
PKGS := ./...

.PHONY: build run test test-short bench fuzz lint tools clean

build:
	$(GO) build -o $(BIN) ./cmd/helpdesk

# The embedded default: SQLite under ./data, in-process locks, a demo
# mailbox on an in-process IMAP server, the web UI on 127.0.0.1:8080.
run: build
	./$(BIN) demo

# The whole suite, with the race detector. Fuzz targets run their seed
# corpus here; `make fuzz` explores further. atexit_sleep_ms=0: a test
# binary need not sleep a second at exit for late race reports (a race
# during a test fails that test).
test: build
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	GORACE="atexit_sleep_ms=0 $(GORACE)" HELPDESK_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 15m $(PKGS)

# Unit tests, SQLite and one Dovecot smoke test: under -short the tests
# that need PostgreSQL, Chromium, more of Dovecot or a fault scenario skip
# (testserver.SkipShort).
test-short: build
	HELPDESK_BIN=$(CURDIR)/$(BIN) $(GO) test -short -count=1 -timeout 5m $(PKGS)

# Benchmarks print each figure beside its reference, measured in the same run.
bench: build
	HELPDESK_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m $(PKGS)

FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./fetcher/mailparse/

lint:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

# What the tests need on a fresh Debian machine (run as root).
tools:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		redis-server postgresql dovecot-imapd chromium ca-certificates git make

clean:
	rm -rf bin
