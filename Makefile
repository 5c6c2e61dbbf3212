# meshgate — the two commands a newcomer needs are `make run` and `make test`.
# Everything else here is for developers.

BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
JOBS      ?= $(shell nproc)
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
CTEST_ARGS ?=

# ccache: share hits between checkouts of the same tree (worktrees, CI clones).
export CCACHE_BASEDIR := $(abspath $(CURDIR)/..)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps configure build test run demo format lint asan clean

all: build

deps:
	@./scripts/deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

run: build
	./scripts/run-demo.sh $(BUILD_DIR)

format:
	@files=$$(git diff --name-only --diff-filter=ACMR HEAD -- '*.cc' '*.h'; git ls-files --others --exclude-standard -- '*.cc' '*.h'); \
	  [ -z "$$files" ] || clang-format -i $$files

lint: configure
	@files=$$(git diff --name-only --diff-filter=ACMR HEAD -- '*.cc'; git ls-files --others --exclude-standard -- '*.cc'); \
	  [ -z "$$files" ] || clang-tidy -p $(BUILD_DIR) --quiet $$files

asan: deps
	cmake -S . -B $(ASAN_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Debug -DMESHGATE_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
