# logwire: `make demo` shows it working, `make test` runs every test. Both install the
# Debian packages that are missing first (tools/install-deps.sh).

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test bench soak test-asan test-tsan format clean

all: build

deps:
	@tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@tools/demo.sh $(BUILD)/bin

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 300

bench: build
	@tools/bench.sh $(BUILD)/bin

# Long runs that do not belong in `make test`: the fuzzers for 10 minutes each, the kill
# tests over and over.
soak: build
	@tools/soak.sh $(BUILD)

# The tests under AddressSanitizer + UBSan, and under ThreadSanitizer.
test-asan:
	@$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DLOGWIRE_ASAN=ON -DLOGWIRE_BUILD_BENCH=OFF -DLOGWIRE_FUZZ_SECONDS=10"

test-tsan:
	@$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DLOGWIRE_TSAN=ON -DLOGWIRE_BUILD_BENCH=OFF -DLOGWIRE_FUZZ_SECONDS=10"

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	@rm -rf build build-asan build-tsan
