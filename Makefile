# Makefile -- the two commands of the README, and a few for developers.
#
#   make run    install what is missing, build, serve http://localhost:8080
#   make test   install what is missing, build with sanitizers, run every test
#
# Pass server options with ARGS, e.g. make run ARGS="--redis redis://127.0.0.1:6379".

BUILD      ?= build
TEST_BUILD ?= build/test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=

.PHONY: all deps test-deps build run test cluster clean

all: build

deps:
	@deploy/install-deps.sh

test-deps:
	@deploy/install-deps.sh --test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTT_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/ttt-server $(ARGS)

test: test-deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTTT_SANITIZE=ON -DTTT_TESTS=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure --timeout 900

clean:
	rm -rf $(BUILD)
