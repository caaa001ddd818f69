# Makefile -- the two commands of the README, and a few for developers.
#
#   make run    install what is missing, build, serve http://localhost:8080
#   make test   install what is missing, build with sanitizers, run every test
#   make cluster  redis-server + 2 ttt-server processes + nginx, on one machine
#                 (make cluster-down stops them; CLUSTER_ARGS="-n 3 --port 9000")
#
# Pass server options with ARGS, e.g. make run ARGS="--redis redis://127.0.0.1:6379".

BUILD      ?= build
TEST_BUILD ?= build/test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=

.PHONY: all deps test-deps cluster-deps build run test cluster cluster-down clean

all: build

deps:
	@deploy/install-deps.sh

test-deps:
	@deploy/install-deps.sh --test

cluster-deps:
	@deploy/install-deps.sh --cluster

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTT_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/ttt-server $(ARGS)

test: test-deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTTT_SANITIZE=ON -DTTT_TESTS=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure --timeout 900

CLUSTER_ARGS ?=
cluster: build cluster-deps
	@deploy/cluster.sh up --server $(BUILD)/ttt-server --dir $(BUILD)/cluster $(CLUSTER_ARGS)

cluster-down:
	@deploy/cluster.sh down --dir $(BUILD)/cluster

clean:
	rm -rf $(BUILD)
