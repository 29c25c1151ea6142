# rasputin — build vocabulary: all, test, run, sim, sim-long, model, tidy.
# Every target that builds first runs scripts/deps.sh (quick when all is present).

CC      ?= cc
SEEDS   ?= 2000
FIRST   ?= 1
SIMARGS ?=

WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wconversion \
           -Wstrict-prototypes -Wmissing-prototypes -Werror
INCS    := -Isrc -Iinclude
RELEASE_FLAGS := -O2 -g -mtune=native
DEBUG_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                 -fno-sanitize-recover=all

UTIL_SRC    := $(wildcard src/util/*.c)
HARPOON_SRC := $(wildcard src/harpoon/*.c)
STORAGE_SRC := $(wildcard src/storage/*.c)
NET_SRC     := $(wildcard src/net/*.c)
SIM_SRC     := $(filter-out src/sim/sim_main.c,$(wildcard src/sim/*.c))
SERVER_SRC  := $(filter-out src/server/main.c,$(wildcard src/server/*.c))
CLIENT_SRC  := $(wildcard src/client/*.c)
CLI_SRC     := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
LIB_SRC     := $(UTIL_SRC) $(HARPOON_SRC) $(STORAGE_SRC) $(NET_SRC) $(SIM_SRC) \
               $(SERVER_SRC) $(CLIENT_SRC) $(CLI_SRC)
LIBS        := -lrocksdb -luv -ledit -lisal -lpthread -lm
# librasputin: the client library and what it stands on (no libuv, no RocksDB).
CLIENT_LIB_SRC := $(CLIENT_SRC) src/net/resp.c src/net/resp_parse.c src/net/resp_write.c \
                  $(UTIL_SRC)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)

MUTANTS := grant_shorter_log commit_old_term ack_before_persist no_drift_margin skip_noop

.PHONY: all deps test unit run demo faults bench bench-deps sim sim-long model tidy format clean mutants bench-storage fuzz
.SECONDARY:

all: build/release/rasputin-sim build/release/rasputind build/release/rasputin-cli \
     build/release/librasputin.a

# --- the server, the client library, the command-line client ---------------------
build/release/rasputind: $(patsubst %.c,build/release/%.o,$(LIB_SRC) src/server/main.c)
	$(CC) $(RELEASE_FLAGS) $^ -o $@ $(LIBS)
build/debug/rasputind: $(patsubst %.c,build/debug/%.o,$(LIB_SRC) src/server/main.c)
	$(CC) $(DEBUG_FLAGS) $^ -o $@ $(LIBS)
build/release/librasputin.a: $(patsubst %.c,build/release/%.o,$(CLIENT_LIB_SRC))
	rm -f $@ && ar rcs $@ $^
build/release/rasputin-cli: $(patsubst %.c,build/release/%.o,$(CLI_SRC) src/cli/main.c) \
                            build/release/librasputin.a
	$(CC) $(RELEASE_FLAGS) $^ -o $@ -ledit -lisal -lpthread
# rasputin-lincheck: the simulator's linearizability checker on histories of real clusters.
build/release/rasputin-lincheck: build/release/tests/cluster/lincheck_main.o \
                                 $(patsubst %.c,build/release/%.o,$(UTIL_SRC) src/sim/lincheck.c)
	$(CC) $(RELEASE_FLAGS) $^ -o $@ -lisal -lpthread -lm
# nfq_delay: the fault harness's delay (NFQUEUE holds peer packets, tests/faults).
build/release/nfq_delay: tests/faults/nfq_delay.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(RELEASE_FLAGS) $< -o $@ -lnetfilter_queue
build/release/examples/%: examples/%.c build/release/librasputin.a | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -Iinclude $(RELEASE_FLAGS) $^ -o $@ -lisal -lpthread

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
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(NET_SRC) $(UTIL_SRC) | deps
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(INCS) $^ -o $@ -luv -lisal -lpthread
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz: $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus_$$t tests/fuzz/corpus_$$t; \
		./build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus_$$t \
			tests/fuzz/corpus_$$t || exit 1; \
	done

# bench-storage: a benchmark, not a test.  BENCH_DIR picks the disk (default: here).
bench-storage: build/release/bench_storage
	./build/release/bench_storage $(or $(BENCH_DIR),.) 2

# --- the README's commands ------------------------------------------------------
# make run: a local 3-node cluster (client ports 7001-7003, peer ports 7101-7103,
# data in ./data or DATA=dir); Ctrl-C stops it.
CLUSTER_BINS := build/release/rasputind build/release/rasputin-cli build/release/examples/basic \
                build/release/rasputin-lincheck build/release/nfq_delay
run: build/release/rasputind build/release/rasputin-cli
	@./scripts/run-cluster.sh $(DATA)

# make demo: the simulator's readable timeline of an election, a partition and a recovery.
demo: build/release/rasputin-sim
	@./build/release/rasputin-sim demo

# make test: everything CI runs; ends with "N passed, N failed".
test: $(UNIT_BINS) build/release/rasputin-sim build/debug/rasputin-sim mutants build/release/crash_writer \
      $(CLUSTER_BINS) build/release/bench/rpload build/release/bench/probe
	@./tests/run.sh

# make bench: rasputin beside etcd and Redis on this machine, one run (a benchmark,
# not a test; docs/performance.md).  BENCH_QUICK=1 for a smoke run.
BENCH_TOOLS := build/release/bench/rpload build/release/bench/probe build/release/bench/etcdload
build/release/bench/rpload: bench/rpload.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(RELEASE_FLAGS) $< -o $@
build/release/bench/probe: bench/probe.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(RELEASE_FLAGS) $< -o $@
build/release/bench/etcdload: $(wildcard bench/etcdload/*.go) | bench-deps
	@mkdir -p $(dir $@)
	GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOCACHE=$(CURDIR)/build/go-cache \
		go build -o $@ ./bench/etcdload
bench-deps:
	@./scripts/deps.sh bench
bench: bench-deps build/release/rasputind $(BENCH_TOOLS)
	@/usr/bin/python3 bench/run.py

# make faults: the black-box fault campaign on real processes in network
# namespaces (5 nodes, 5 minutes, every nemesis) and the leader-stability
# table; FAULT_SECONDS and STABILITY_SECONDS change the lengths.
FAULT_SECONDS ?= 300
STABILITY_SECONDS ?= 60
faults: $(CLUSTER_BINS)
	/usr/bin/python3 tests/faults/campaign.py run --seconds $(FAULT_SECONDS) --nodes 5
	/usr/bin/python3 tests/faults/campaign.py stability --seconds $(STABILITY_SECONDS)

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
	clang-format -i $(wildcard src/*/*.c src/*/*.h include/*.h tests/unit/*.c tests/unit/*.h)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
