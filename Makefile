# powvote: make run starts the whole platform, make test runs every test.
GO        ?= go
STATICCHECK = $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 5m
DIR       ?= ./powvote-data
ADDR      ?= 127.0.0.1:8080

.PHONY: all build run test lint unit fuzz fuzz-ci fuzz-smoke bench bench-browser bench-table bench-growth loadtest loadtest-apart faults screenshots clean

all: build

build:
	$(GO) build -o bin/powvote ./cmd/powvote

run: build
	./bin/powvote up --dir $(DIR) --addr $(ADDR)

# test is what CI runs (.ci/run): formatting, vet, staticcheck, every unit and
# integration test with the race detector, and 30 s of every fuzzer.
test: lint unit fuzz-ci

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

unit:
	$(GO) test -race -timeout 20m ./...
	# The allocation counts: the race detector's crypto/rand allocates, so
	# these skip under -race and run here without it.
	$(GO) test -count=1 -run 'Allocs$$' ./stamp ./edge ./internal/entropy

# fuzz runs every fuzz target for FUZZTIME (default 5m); fuzz-ci for the
# 30 s of make test; fuzz-smoke for 20000 inputs each, a quick check.
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

fuzz-ci:
	FUZZTIME=30s scripts/fuzz.sh

fuzz-smoke:
	FUZZTIME=20000x scripts/fuzz.sh

# screenshots writes the PNGs that README.md shows (docs/screenshots/): the
# browser tests of the dashboard, the counter and the results page take
# them as they run against a real platform.
screenshots:
	POWVOTE_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestBrowserDashboard|TestCounterEmbedded|TestCheckPage$$' ./cmd/powvote

# bench regenerates the figures quoted in BENCHMARKS.md.
bench:
	scripts/bench.sh

# bench-browser compares the voter app's proof of work in headless Chromium
# with the native solver's, in one run (BENCHMARKS.md).
bench-browser:
	scripts/bench-browser.sh

# loadtest runs powvote loadtest against powvote up on this machine:
# RATE votes/s (default 5000) for DURATION (default 5m); see
# docs/CLI.md. make test runs a 30-second run at 2000 votes/s.
loadtest:
	scripts/loadtest.sh

# loadtest-apart is loadtest against the platform as four separate
# processes on loopback addresses, with TLS on the internal links.
loadtest-apart:
	scripts/loadtest-apart.sh

# faults runs the fault-injection suite: the platform as separate processes
# under powvote loadtest, one fault per scenario (kill -9 of each process, a
# collector down 20 s or frozen, a torn votes.log, a full disk, a clock
# minutes off), then the zero-loss verdict and powvote audit (about 7
# minutes; the disk-full scenarios need root for a small tmpfs). make test
# runs three of them.
faults:
	scripts/faults.sh

# bench-table fills one voter table with 10 million mandates and compares
# the rate of the last million with the first (minutes, gigabytes of
# disk; POWVOTE_SCALE sets the count).
bench-table:
	$(GO) test ./collector/internal/store -run '^$$' -bench '^BenchmarkVoterTableScale$$' -benchtime 1x -timeout 2h

# bench-growth measures what publishing a vote costs (CPU and bytes read
# from the collectors per published vote) in a campaign that holds 10,000
# votes and in one that holds 1,000,000 (about 5 minutes, a few GB of
# disk; POWVOTE_GROWTH sets the sizes).
bench-growth:
	POWVOTE_GROWTH=$${POWVOTE_GROWTH:-10000,1000000} $(GO) test ./collector -run '^$$' -bench '^BenchmarkPublisherGrowth$$' -benchtime 1x -timeout 2h

clean:
	rm -rf bin
