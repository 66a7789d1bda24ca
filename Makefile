# tradecache: `make test` is the whole setup on a fresh Debian machine.

GO                  ?= go
APT_PACKAGES        := redis-server redis-tools redis-sentinel tmux python3-msgpack python3-zstandard python3-cryptography python3-redis python3-pytest python3-pytest-timeout python3-venv python3-setuptools python3-prometheus-client
PYVENV              := python/.venv
FUZZTIME            ?= 60s

SOAK                ?= 2m
SOAK_TOPOLOGY       ?= standalone

.PHONY: test deps check unit pytest pyinstall pybench bench rounds compare report fuzz soak demo test-valkey valkey-deps

## test: install what is missing; compile every package with -race, the work that go test -race and
## staticcheck share; then gofmt's check and staticcheck beside go test -race -vet=all and pytest (at
## once: the tests spend much of their time waiting on redis-server, and the lint fills it); then one
## line: green or FAILED, and how long it took. Compiling first lets the longest test binary (the
## root package's) start as soon as it can, rather than after staticcheck's own build has shared the
## two cores with it.
test: deps
	@start=$$(date +%s); \
	$(GO) build -race ./... && \
	$(MAKE) --no-print-directory -j2 --output-sync=target check unit pytest; rc=$$?; \
	if [ $$rc -eq 0 ]; then verdict=green; else verdict=FAILED; fi; \
	echo "make test: $$verdict in $$(( $$(date +%s) - start )) s"; exit $$rc

## deps: apt-get install $(APT_PACKAGES) where missing (the Python ones: the Python package and its tests)
deps:
	@missing=""; \
	command -v redis-server   >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v redis-cli      >/dev/null 2>&1 || missing="$$missing redis-tools"; \
	command -v redis-sentinel >/dev/null 2>&1 || missing="$$missing redis-sentinel"; \
	command -v tmux           >/dev/null 2>&1 || missing="$$missing tmux"; \
	/usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1 || missing="$$missing python3-msgpack"; \
	/usr/bin/python3 -c 'import zstandard' >/dev/null 2>&1 || missing="$$missing python3-zstandard"; \
	/usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1 || missing="$$missing python3-cryptography"; \
	/usr/bin/python3 -c 'import redis.asyncio' >/dev/null 2>&1 || missing="$$missing python3-redis"; \
	/usr/bin/python3 -c 'import pytest' >/dev/null 2>&1 || missing="$$missing python3-pytest"; \
	/usr/bin/python3 -c 'import pytest_timeout' >/dev/null 2>&1 || missing="$$missing python3-pytest-timeout"; \
	/usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	/usr/bin/python3 -c 'import setuptools' >/dev/null 2>&1 || missing="$$missing python3-setuptools"; \
	/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || missing="$$missing python3-prometheus-client"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || \
		{ echo "could not install$$missing with apt-get; install them by hand"; exit 1; }; \
	fi

## check: formatting and staticcheck (go vet runs inside unit's go test, on every package)
## staticcheck is pinned in tools/go.mod; `go tool -n` builds it once into the Go build cache and
## prints its path. It runs with GOFLAGS=-race so that its `go list -export` reuses the packages
## unit's go test -race compiles, rather than compiling every package a second time without -race
## (cold, that second compile was two thirds of staticcheck's cost: 93 CPU-seconds against 27).
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	@sc=$$(cd tools && $(GO) tool -n staticcheck) && echo "staticcheck ./..." && GOFLAGS=-race $$sc ./...

## unit: the test suite, with the race detector and every go vet check, against real redis-server
## processes. (Four test binaries at once, -p 4, saved 40 s of a warm run, but beside two
## CPU-burning loops it starved calls past their 100 ms bounds: two at a time, go test's default.)
unit:
	$(GO) test -race -vet=all -count=1 -timeout 9m ./...

## pytest: install the Python package as the README says (a venv that sees Debian's packages: Debian 12
## refuses a system-wide pip install, PEP 668), check what was installed, then its tests (python/tests)
## against their own redis-server, Sentinel group and Cluster. A test that runs past 180 s fails with
## every thread's stack (pytest-timeout) rather than hanging the run: one once waited for ever on a
## SIGSTOP'd server when redis-py swallowed a cancellation.
pytest: pyinstall
	cd python && ../$(PYVENV)/bin/python -m pytest -q -p no:cacheprovider --timeout=180 --timeout-method=thread tests

## pyinstall: python3 -m venv --system-site-packages, then pip install --no-build-isolation --no-deps ./python
pyinstall:
	@[ -x $(PYVENV)/bin/python ] || /usr/bin/python3 -m venv --system-site-packages $(PYVENV)
	@$(PYVENV)/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall ./python 2>&1 | grep -v "^\[notice\]" || true
	@cd / && $(CURDIR)/$(PYVENV)/bin/python -c 'import os, tradecache; d = os.path.dirname(tradecache.__file__); \
		assert d.startswith("$(CURDIR)/$(PYVENV)/"), d; assert os.path.exists(os.path.join(d, "py.typed")), "no py.typed"'

## pybench: Python beside raw redis-py in one run (decode, get_many, get/set at 50 tasks), on a redis-server of its own
pybench: deps pyinstall
	@port=$$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	dir=$$(mktemp -d); redis-server --port $$port --bind 127.0.0.1 --save "" --appendonly no --dir $$dir --daemonize yes --pidfile $$dir/pid --logfile $$dir/log; \
	sleep 0.3; $(PYVENV)/bin/python python/bench.py redis://127.0.0.1:$$port; rc=$$?; kill $$(cat $$dir/pid); rm -rf $$dir; exit $$rc

## bench: benchmarks beside raw rueidis (no -race)
bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

## rounds: the fast path's figures as interleaved rounds, each ratio per round (benchmarks/rounds.sh;
## ROUNDS=3 by default, about four minutes a round)
rounds: deps
	GO=$(GO) sh benchmarks/rounds.sh

FUZZ_TARGETS        := codec:FuzzUnmarshal codec:FuzzExtensions codec:FuzzSealed codec:FuzzAmplification trading:FuzzCanonicalDecoders

## compare: tradecache beside go-redis/cache, eko/gocache, go-redis AutoPipeline and raw rueidis on one redis-server (benchmarks/, its own module)
compare: deps
	cd benchmarks && $(GO) test -run '^$$' -bench . -benchtime 2s .

## report: tradecache bench --html against a fresh redis-server, photographed by headless Chromium into ./build
report: deps
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	mkdir -p build
	$(GO) test -tags report -run '^TestReportScreenshot$$' -count=1 -v ./cmd/tradecache -report-out $(CURDIR)/build

## fuzz: run each decoder fuzz target (package:target) for FUZZTIME (default 60s), then copy the corpus it kept into testdata to commit
fuzz:
	@for pt in $(FUZZ_TARGETS); do \
		p=$${pt%%:*}; t=$${pt#*:}; \
		echo "== $$p $$t"; \
		$(GO) test ./$$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
		mkdir -p $$p/testdata/fuzz/$$t; \
		cp -n "$$($(GO) env GOCACHE)/fuzz/github.com/tradecache/tradecache/$$p/$$t/"* $$p/testdata/fuzz/$$t/ 2>/dev/null || true; \
	done

## soak: 50 goroutines of mixed traffic for SOAK (default 2m) while faults are injected; prints recovery times and error counts (SOAK_TOPOLOGY=cluster: on a six-node cluster)
soak: deps
	$(GO) test -tags soak -run '^TestSoak$(if $(filter cluster,$(SOAK_TOPOLOGY)),Cluster,)$$' -count=1 -timeout 0 -soak-duration $(SOAK) -v .

## demo: the demo on the embedded store (or on Redis if REDIS_URL/REDIS_HOST is set)
demo:
	$(GO) run ./cmd/tradecache demo

## test-valkey: install Valkey 8 from bookworm-backports if missing, then run every suite (standalone, Sentinel, cluster, failover, reshard) against valkey-server
test-valkey: valkey-deps
	REDISTEST_SERVER=valkey-server $(GO) test -count=1 -v -run '^TestServerIsTheOneAskedFor$$' ./internal/redistest
	REDISTEST_SERVER=valkey-server $(GO) test -count=1 -timeout 9m ./...

## valkey-deps: apt-get install valkey-server valkey-tools valkey-sentinel from bookworm-backports where missing
valkey-deps:
	@if ! command -v valkey-server >/dev/null 2>&1 || ! command -v valkey-cli >/dev/null 2>&1 || ! command -v valkey-sentinel >/dev/null 2>&1; then \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
		if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then \
			printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' | \
				$$SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null; \
		fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq -t bookworm-backports valkey-server valkey-tools valkey-sentinel >/dev/null || \
		{ echo "could not install Valkey from bookworm-backports; install valkey-server, valkey-tools and valkey-sentinel by hand"; exit 1; }; \
	fi
