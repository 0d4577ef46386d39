# mmcosim — the two commands a new user needs are `make run` and `make test`.
# Everything else here is a convenience for developers.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
OUTDIR     ?= out/default
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps configure build run test bench coverage clean help

all: build

help:
	@echo "make run       install missing packages, build, run the default scenario into $(OUTDIR)"
	@echo "make test      install missing packages, build, run every test through ctest"
	@echo "make bench     build and run the benchmarks, then the speed table (docs/performance.md)"
	@echo "make coverage  RTL line/toggle coverage of rtl/ from the test suite"
	@echo "make clean     remove $(BUILD) and out/"

deps:
	@./scripts/deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Only what it runs: the simulator (make test builds the rest).
run: configure
	cmake --build $(BUILD) -j $(JOBS) --target mmcosim
	./$(BUILD)/mmcosim run --outdir $(OUTDIR)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	./scripts/bench.sh $(BUILD)

coverage: deps
	./scripts/coverage.sh

clean:
	rm -rf $(BUILD) out
