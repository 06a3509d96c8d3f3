# ferrodis developer entry points.
#   make              release build (target/release/ferrodis-server)
#   make run ARGS=... build, then run the server with ARGS (e.g. ARGS="--port 7777")
#   make test         rustfmt check, clippy -D warnings, all tests (needs redis-server 7.0.15),
#                     including the client matrix (installs its libraries when missing)
#   make bench        release build, then utils/bench.py (BENCH_ARGS="--rounds 3 --memory" ...)
#   make fuzz         cargo fuzz run on every fuzz target for FUZZ_TIME seconds, if cargo-fuzz
#                     is installed (FUZZ_TARGET=name for one target, FUZZ_FLAGS for cargo fuzz,
#                     FUZZ_LIMITS for libFuzzer's memory limits; see fuzz/README.md)

CARGO       ?= cargo
PYTHON      ?= python3
SERVER      := target/release/ferrodis-server
ARGS        ?=
BENCH_ARGS  ?=
FUZZ_TARGET ?=
FUZZ_TIME   ?= 60
# Sanitizers need nightly; on the stable toolchain cargo fuzz works with --sanitizer none.
FUZZ_FLAGS  ?= $(if $(findstring nightly,$(shell rustc --version 2>/dev/null)),,--sanitizer none)
# A command that allocates in proportion to a client's number must show up as a crash: RSS above
# 2 GB fails the run (any build), and so does one malloc above 2 GB (sanitizer builds only; the
# commands target also caps its own heap at FERRODIS_FUZZ_HEAP_MB, default 1024).
FUZZ_LIMITS ?= -rss_limit_mb=2048 -malloc_limit_mb=2048

.PHONY: all build run test check-redis clients-deps bench fuzz clean

all: build

build:
	$(CARGO) build --release

run: build
	./$(SERVER) $(ARGS)

# The differential tests compare every reply with the real Redis, so the oracle is required:
# fail early with a hint rather than deep inside the test run.
check-redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "error: redis-server not found on PATH; the differential tests need Redis 7.0.15 as their oracle." >&2; \
	  echo "hint: apt-get install redis-server redis-tools   (or run .ci/run, which installs them)" >&2; \
	  exit 1; }

# The client matrix (tests/clients, tests/clients.rs) runs real client libraries: install the
# missing ones (apt-get as root, a venv for Python, npm ci for Node) or say what to run.
clients-deps:
	@bash tests/clients/install.sh

test: check-redis clients-deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --all-targets

bench: build
	$(PYTHON) utils/bench.py $(SERVER) $(BENCH_ARGS)

fuzz:
	@if ! $(CARGO) fuzz --help >/dev/null 2>&1; then \
	  echo "cargo-fuzz is not installed (cargo install cargo-fuzz): skipping"; \
	  exit 0; \
	fi; \
	targets="$(FUZZ_TARGET)"; \
	if [ -z "$$targets" ]; then targets=$$($(CARGO) fuzz list); fi; \
	if [ -z "$$targets" ]; then echo "no fuzz targets under fuzz/"; exit 0; fi; \
	for t in $$targets; do \
	  echo "== fuzzing $$t for $(FUZZ_TIME)s"; \
	  $(CARGO) fuzz run $(FUZZ_FLAGS) $$t -- -max_total_time=$(FUZZ_TIME) $(FUZZ_LIMITS) || exit 1; \
	done

clean:
	$(CARGO) clean
