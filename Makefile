# vigil — make targets. `make demo` and `make test` do all set-up themselves.
GO       ?= go
BIN      := bin/vigil
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# Debian packages the tests and the demo use: real Redis and Sentinel, the
# redis-cli and redis-py clients, the tools for real network partitions, and
# promtool (package prometheus) for the alert-rule tests.
DEB_PKGS := redis-server redis-sentinel redis-tools python3-redis iproute2 iptables prometheus
TEST_TIMEOUT ?= 30m
# staticcheck, fetched through the Go module proxy like the dependencies;
# pinned so a new release cannot fail a build that passed.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all deps build test vet demo bench bench-idle bench-failover bench-scenarios chaos chaos-long clean

all: build

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "missing Debian packages:$$missing"; \
		echo "install them with: sudo apt-get install -y$$missing"; \
		exit 1; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go is missing: install Go 1.26 or newer (https://go.dev/doc/install)"; exit 1; }

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vigil

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The chaos run judges availability against down_after + 2 s, so it runs
# alone, after the other packages, not beside a dozen Redis groups of theirs
# on the same cores.
test: deps vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -skip '^TestChaos$$' ./...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -run '^TestChaos$$' ./internal/chaos/

demo: deps build
	$(BIN) demo

# Benchmarks: Go micro-benchmarks, then the idle cost beside redis-sentinel.
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /internal/bench)
	$(MAKE) bench-idle

bench-idle: deps build
	$(GO) test -run '^$$' -bench BenchmarkIdle -benchtime 1x -timeout 10m ./internal/bench/

bench-failover: deps build
	$(GO) test -run '^$$' -bench 'BenchmarkFailover$$' -benchtime 1x -timeout 60m ./internal/bench/

# Issue 8/9 scenarios beside redis-sentinel: host crash, double kill, rolling
# restart, partition (root only). Long: VIGIL_BENCH_RUNS sets runs per cell.
bench-scenarios: deps build
	$(GO) test -run '^$$' -bench 'BenchmarkFailover(HostCrash|DoubleKill|RollingRestart|Partition)' -benchtime 1x -timeout 240m ./internal/bench/

# Chaos testing (README "Chaos testing"): one seeded run of faults against
# real processes in a network namespace (root). The same SEED, DURATION and
# NODES replay the same fault schedule. The output ends with the summary table.
SEED     ?= 1
DURATION ?= 60s
NODES    ?= 3
# SHIPPED=1: the sidecars run vigil's shipped durability defaults
# (min_replicas 0, divergent_writes archive) instead of the durable mode.
SHIPPED  ?=
CHAOS_LOG ?= /tmp/vigil-chaos-$(SEED)-n$(NODES).log
CHAOS_KEEP ?= /tmp/vigil-chaos-$(SEED)-n$(NODES)
chaos: deps
	@{ CHAOS_SEED=$(SEED) CHAOS_DURATION=$(DURATION) CHAOS_NODES=$(NODES) CHAOS_KEEP=$(CHAOS_KEEP) CHAOS_SHIPPED=$(SHIPPED) \
		$(GO) test -count=1 -v -run '^TestChaos$$' -timeout 60m ./internal/chaos/; echo $$? >$(CHAOS_LOG).rc; } 2>&1 | tee $(CHAOS_LOG); \
	echo; echo "summary (full log: $(CHAOS_LOG)):"; sed -n '/^+-----/,/^+-----/p' $(CHAOS_LOG) | tail -n 14; \
	rc=$$(cat $(CHAOS_LOG).rc); rm -f $(CHAOS_LOG).rc; exit $$rc

# Many seeds, one after another, for LONG (30 minutes); for release checks,
# not CI. make chaos-long NODES=5 LONG=30m SEED=100
LONG ?= 30m
chaos-long: deps
	GO=$(GO) LONG=$(LONG) NODES=$(NODES) DURATION=$(DURATION) SEED=$(SEED) CHAOS_SHIPPED=$(SHIPPED) sh internal/chaos/long.sh

clean:
	rm -rf bin
