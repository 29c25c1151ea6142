# rasputin — build vocabulary: all, test, run, sim, sim-long, model, tidy.
# Every target that builds first runs scripts/deps.sh (quick when all is present).

CC      ?= cc
SEEDS   ?= 2000
FIRST   ?= 1
SIMARGS ?=

WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion \
           -Wstrict-prototypes -Wmissing-prototypes -Werror
INCS    := -Isrc -Iinclude
RELEASE_FLAGS := -O2 -g
DEBUG_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                 -fno-sanitize-recover=all

UTIL_SRC    := $(wildcard src/util/*.c)
HARPOON_SRC := $(wildcard src/harpoon/*.c)
STORAGE_SRC := $(wildcard src/storage/*.c)
NET_SRC     := $(wildcard src/net/*.c)
SIM_SRC     := $(filter-out src/sim/sim_main.c,$(wildcard src/sim/*.c))
LIB_SRC     := $(UTIL_SRC) $(HARPOON_SRC) $(STORAGE_SRC) $(NET_SRC) $(SIM_SRC)
LIBS        := -lrocksdb -lisal -lpthread -lm
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

MUTANTS := grant_shorter_log commit_old_term ack_before_persist no_drift_margin skip_noop

.PHONY: all deps test unit run sim sim-long model tidy format clean mutants bench-storage fuzz
.SECONDARY:

all: build/release/rasputin-sim

deps:
	@./scripts/deps.sh

# --- objects: build/<mode>/<path>.o -------------------------------------------
build/release/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(INCS) $(RELEASE_FLAGS) -MMD -MP -c $< -o $@
build/debug/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(INCS) $(DEBUG_FLAGS) -MMD -MP -c $< -o $@
define mutant_rules
build/mutant-$(1)/%.o: %.c | deps
	@mkdir -p $$(dir $$@)
	$$(CC) $$(WARN) $$(INCS) $$(RELEASE_FLAGS) -DHP_MUTANT_$(shell echo $(1) | tr a-z A-Z) -MMD -MP -c $$< -o $$@
build/mutant-$(1)/rasputin-sim: $$(patsubst %.c,build/mutant-$(1)/%.o,$$(LIB_SRC) src/sim/sim_main.c)
	$$(CC) $$(RELEASE_FLAGS) $$^ -o $$@ $$(LIBS)
endef
$(foreach m,$(MUTANTS),$(eval $(call mutant_rules,$(m))))

build/release/rasputin-sim: $(patsubst %.c,build/release/%.o,$(LIB_SRC) src/sim/sim_main.c)
	$(CC) $(RELEASE_FLAGS) $^ -o $@ $(LIBS)
build/debug/rasputin-sim: $(patsubst %.c,build/debug/%.o,$(LIB_SRC) src/sim/sim_main.c)
	$(CC) $(DEBUG_FLAGS) $^ -o $@ $(LIBS)

UNIT_BINS := $(patsubst tests/unit/%.c,build/debug/tests/%,$(UNIT_SRC))
build/debug/tests/%: build/debug/tests/unit/%.o $(patsubst %.c,build/debug/%.o,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(DEBUG_FLAGS) $^ -o $@ $(LIBS)
build/debug/tests/unit/%.o: tests/unit/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(INCS) -Itests/unit $(DEBUG_FLAGS) -MMD -MP -c $< -o $@

mutants: $(foreach m,$(MUTANTS),build/mutant-$(m)/rasputin-sim)

# Storage tools: the kill -9 writer for tests/storage/crash_test.sh, and the benchmark.
build/release/crash_writer: build/release/tests/storage/crash_writer.o $(patsubst %.c,build/release/%.o,$(LIB_SRC))
	$(CC) $(RELEASE_FLAGS) $^ -o $@ $(LIBS)
build/release/bench_storage: build/release/tests/storage/bench_storage.o $(patsubst %.c,build/release/%.o,$(LIB_SRC))
	$(CC) $(RELEASE_FLAGS) $^ -o $@ $(LIBS)

# fuzz: libFuzzer on the decoders (FUZZ_SECONDS each, default 60).
FUZZ_SECONDS ?= 60
build/fuzz/fuzz_resp: tests/fuzz/fuzz_resp.c $(NET_SRC) $(UTIL_SRC) | deps
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(INCS) $^ -o $@ -lisal -lpthread
fuzz: build/fuzz/fuzz_resp
	@mkdir -p build/fuzz/corpus_resp
	./build/fuzz/fuzz_resp -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus_resp tests/fuzz/corpus_resp

# bench-storage: a benchmark, not a test.  BENCH_DIR picks the disk (default: here).
bench-storage: build/release/bench_storage
	./build/release/bench_storage $(or $(BENCH_DIR),.) 2

# --- the README's commands ------------------------------------------------------
# make run: a readable timeline of an election, a partition and a recovery.
run: build/release/rasputin-sim
	@./build/release/rasputin-sim demo

# make test: everything CI runs; ends with "N passed, N failed".
test: $(UNIT_BINS) build/release/rasputin-sim build/debug/rasputin-sim mutants build/release/crash_writer
	@./tests/run.sh

sim: build/release/rasputin-sim
	./build/release/rasputin-sim swarm --seeds $(SEEDS) --first $(FIRST) $(SIMARGS)

sim-long: build/release/rasputin-sim
	./build/release/rasputin-sim swarm --seeds 100000 --first $(FIRST) $(SIMARGS)

model: deps
	@./specs/check.sh

# tidy: the layering rules that a grep can check, and formatting.
tidy:
	@./scripts/tidy.sh

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
