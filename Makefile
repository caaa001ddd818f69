# Makefile -- the two commands of the README, and a few for developers.
#
#   make run    install what is missing, build, serve http://localhost:8080
#   make test   install what is missing, build with sanitizers, run every test
#               (each fuzz target and the network fuzzer for a few seconds too);
#               the release configuration is built too, warnings as errors
#   make fuzz   the fuzz targets for FUZZ_SECONDS each (default 60), then the
#               network fuzzer in its long mode (docs/fuzzing.md)
#   make bench  the performance table (docs/benchmarks.md): the kernel's floor
#               beside the server, memory / Redis / nginx; build/bench/bench.json
#               (BENCH_ARGS="--profile" adds perf record's top symbols)
#   make cluster  redis-server + 2 ttt-server processes + nginx, on one machine
#                 (make cluster-down stops them; CLUSTER_ARGS="-n 3 --port 9000";
#                 REDIS_CLUSTER=3: a Redis Cluster of 3 primaries + 3 replicas)
#
# Pass server options with ARGS, e.g. make run ARGS="--redis redis://127.0.0.1:6379".

BUILD      ?= build
TEST_BUILD ?= build/test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=
FUZZ_BUILD ?= build/fuzz
BENCH_BUILD ?= build/bench
RELEASE_CHECK ?= build/release-check
BENCH_ARGS ?=
FUZZ_SECONDS ?= 60
FUZZ_SEED  ?= $(shell date +%s)
NETFUZZ_ARGS ?=

.PHONY: all deps test-deps cluster-deps build run test test-build fuzz fuzz-build cluster \
        cluster-down clean bench bench-deps release-check

all: build

deps:
	@deploy/install-deps.sh

test-deps:
	@deploy/install-deps.sh --test

cluster-deps:
	@deploy/install-deps.sh --cluster

bench-deps:
	@deploy/install-deps.sh --bench

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTT_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/ttt-server $(ARGS)

# The libFuzzer targets need clang: they live in a build of their own, whose
# binaries the test build runs as ctests (TTT_FUZZ_BIN_DIR), so that one ctest
# run, and its summary, covers everything.
fuzz-build: test-deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	       -DTTT_FUZZ=ON -DTTT_TESTS=OFF -DTTT_FUZZ_SECONDS=5 -DTTT_FUZZ_RUNS=2000000 \
	       -DTTT_FUZZ_WORK_DIR= >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

# The optimised build warns where the debug build does not (an assert
# compiled out, -O2's string checks): what `make run` builds gets no warning.
release-check: deps
	@cmake -S . -B $(RELEASE_CHECK) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTT_TESTS=OFF \
	       -DTTT_WERROR=ON >/dev/null
	@cmake --build $(RELEASE_CHECK) -j $(JOBS)

test-build: test-deps fuzz-build release-check
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTTT_SANITIZE=ON -DTTT_TESTS=ON \
	       -DTTT_FUZZ_BIN_DIR=$(abspath $(FUZZ_BUILD)) >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

test: test-build
	cd $(TEST_BUILD) && ctest --output-on-failure --timeout 900

# Each target FUZZ_SECONDS long, with a corpus that grows from run to run in
# $(FUZZ_BUILD)/corpus (the seeds in tests/fuzz/corpus are only read), then
# ttt-netfuzz --long against the sanitized test server.
fuzz: test-build
	@cmake -S . -B $(FUZZ_BUILD) -DTTT_FUZZ_SECONDS=$(FUZZ_SECONDS) -DTTT_FUZZ_RUNS=-1 \
	       -DTTT_FUZZ_WORK_DIR=$(abspath $(FUZZ_BUILD))/corpus >/dev/null
	cd $(FUZZ_BUILD) && ctest -V -L fuzz
	./$(TEST_BUILD)/tests/netfuzz/ttt-netfuzz --long --seed $(FUZZ_SEED) $(NETFUZZ_ARGS)

# The release build (as `make build`) in a directory of its own, then the
# table; the script prints its own running time (about a minute; with
# BENCH_ARGS="--repeat 3" each row keeps its least disturbed of three runs).
bench: bench-deps
	@start=$$(date +%s); \
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTT_TESTS=OFF >/dev/null && \
	cmake --build $(BENCH_BUILD) -j $(JOBS) >/dev/null && \
	python3 tests/bench/run_bench.py --build $(BENCH_BUILD) --json $(BENCH_BUILD)/bench.json \
	        $(BENCH_ARGS); rc=$$?; \
	echo "make bench: $$(( $$(date +%s) - start )) s in all (build included); $(BENCH_BUILD)/bench.json"; \
	exit $$rc

CLUSTER_ARGS ?=
cluster: build cluster-deps
	@deploy/cluster.sh up --server $(BUILD)/ttt-server --dir $(BUILD)/cluster \
	    $(if $(REDIS_CLUSTER),--redis-cluster $(REDIS_CLUSTER)) $(CLUSTER_ARGS)

cluster-down:
	@deploy/cluster.sh down --dir $(BUILD)/cluster

clean:
	rm -rf $(BUILD)
