# linger - lingering close for unmodified servers, as an LD_PRELOAD shim.
#   make            build build/liblinger.so
#   make test       install test dependencies (as root), build, run everything CI runs:
#                   the default suite, the suite under SANITIZE=thread and under
#                   SANITIZE=address,undefined, and a one-minute fuzz of the scanner
#   make check      the default suite alone (unit + integration); with SANITIZE=...,
#                   that sanitizer's suite (make test SANITIZE=... runs just that)
#   make fuzz       libFuzzer on the response scanner for FUZZ_SECONDS (60), then on the
#                   request scanners for FUZZ_REQ_SECONDS (15)
#   make soak       100,000 connections through the shim; not part of make test
#   make demo       uploads through nginx without and with linger, side by side (linger-ab)
#   make bench      what linger costs: hot path, nginx throughput, capacity, drain, close (bench/run.py)
#   make unit       criterion unit tests of the pure modules
#   make integration  real servers and clients, with and without the shim
#   make musl       build build/liblinger-musl.so with musl-gcc (for musl/Alpine programs)
#   make install    install the library, linger-run and its man page under $(DESTDIR)$(PREFIX)
#   make uninstall  remove what make install installed
#   make clean      remove build/

CC       := gcc
BUILD    := build
comma    := ,
CFLAGS_COMMON := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC
SHIM_CFLAGS   := $(CFLAGS_COMMON) -fvisibility=hidden -fno-strict-aliasing
# shim/exports.map: the one list of the symbols the library exports (the
# interposed calls), as a version script
EXPORTS_MAP   := shim/exports.map
SHIM_LDFLAGS  := -shared -Wl,-z,relro,-z,now -Wl,--no-undefined -Wl,--version-script=$(EXPORTS_MAP)
SHIM_LIBS     := -ldl -lpthread

# SANITIZE=address,undefined or SANITIZE=thread builds the library and the
# unit tests with that sanitizer into build/sanitize-NAME/ (the test servers,
# the hosts, stay plain), and `make test` preloads the sanitizer's runtime
# ahead of the library. Reports fail the run.
SANITIZE ?=
ifneq ($(SANITIZE),)
SAN_FLAGS    := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
OUT          := $(BUILD)/sanitize-$(subst $(comma),-,$(SANITIZE))
SHIM_CFLAGS  += $(SAN_FLAGS) -O1
SHIM_LDFLAGS := -shared -Wl,-z,relro,-z,now -Wl,--version-script=$(EXPORTS_MAP) $(SAN_FLAGS)
SAN_RUNTIMES := $(foreach s,$(subst $(comma), ,$(SANITIZE)),$(shell $(CC) -print-file-name=lib$(patsubst undefined,ubsan,$(patsubst address,asan,$(patsubst thread,tsan,$(s)))).so))
# criterion cannot start under TSAN (its shared arena clashes with TSAN's
# memory layout); the unit tests cover single-threaded pure code, so under
# SANITIZE=thread they build plain and TSAN watches the library's threads in
# the integration suite.
UNIT_SAN_FLAGS := $(if $(findstring thread,$(SANITIZE)),,$(SAN_FLAGS))
SAN_ENV      := LINGER_IT_SHIM=$(OUT)/liblinger.so LINGER_IT_PRELOAD_FIRST="$(SAN_RUNTIMES)" LINGER_IT_SANITIZE=$(SANITIZE)
# The linger-ab tests run scripts/linger-ab as a user does, with the library
# it finds beside it (build/liblinger.so): a sanitizer's suite builds the
# plain library too, so that it passes on a fresh clone.
PLAIN_LIB    := $(BUILD)/liblinger.so
else
OUT          := $(BUILD)
endif

SHIM_SRCS := $(wildcard shim/*.c)
SHIM_OBJS := $(patsubst shim/%.c,$(OUT)/shim/%.o,$(SHIM_SRCS))
REQ_SRCS  := shim/req_detect.c shim/req_http.c shim/req_uwsgi.c shim/req_scgi.c shim/req_fcgi.c
PURE_SRCS := shim/scan.c shim/config_parse.c $(REQ_SRCS)
# shim modules the unit tests link, each tested in tests/unit/test_<module>.c;
# what they call of the rest (real_write, log_msg, raw_syscall...) the tests
# stand in for
UNIT_SHIM_SRCS := shim/stats.c shim/decide.c shim/fdtable.c shim/fdring.c shim/drainslots.c shim/probe.c \
                  shim/owner.c
UNIT_SRCS := $(wildcard tests/unit/*.c)
SERVER_SRCS := $(filter-out tests/servers/lib%.c,$(wildcard tests/servers/*.c))
SERVER_BINS := $(patsubst tests/servers/%.c,$(BUILD)/tests/%,$(SERVER_SRCS))
# tests/servers/libNAME.c: small preload libraries for fault tests
SERVER_LIBS := $(patsubst tests/servers/%.c,$(BUILD)/tests/%.so,$(wildcard tests/servers/lib*.c))

.PHONY: all clean test unit integration deps servers check fuzz soak
all: $(OUT)/liblinger.so $(BUILD)/linger-ab-client

$(OUT)/shim/%.o: shim/%.c $(wildcard shim/*.h) | $(OUT)/shim
	$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(OUT)/liblinger.so: $(SHIM_OBJS) $(EXPORTS_MAP)
	$(CC) $(SHIM_LDFLAGS) -o $@ $(SHIM_OBJS) $(SHIM_LIBS)

$(sort $(BUILD)/shim $(BUILD)/tests $(OUT)/shim $(OUT)/tests):
	mkdir -p $@

$(OUT)/tests/unit: $(UNIT_SRCS) $(PURE_SRCS) $(UNIT_SHIM_SRCS) $(wildcard shim/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS_COMMON) $(UNIT_SAN_FLAGS) -Ishim -o $@ $(UNIT_SRCS) $(PURE_SRCS) $(UNIT_SHIM_SRCS) -lcriterion -lpthread

# the client of scripts/linger-ab: sends each whole request, then reads the response
$(BUILD)/linger-ab-client: scripts/linger-ab-client.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_COMMON) -o $@ $< -lpthread

$(BUILD)/tests/%: tests/servers/%.c tests/servers/kit.h | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) -o $@ $< -lpthread

$(BUILD)/tests/lib%.so: tests/servers/lib%.c tests/servers/from_linger.h | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) -shared -o $@ $< -ldl

servers: $(SERVER_BINS) $(SERVER_LIBS)

deps:
	@sh scripts/install-test-deps

unit: $(OUT)/tests/unit
	$(OUT)/tests/unit

integration: all servers $(PLAIN_LIB)
	$(SAN_ENV) /usr/bin/python3 tests/integration/run.py

# The plain library, built by a sanitizer's suite (see PLAIN_LIB).
ifneq ($(SANITIZE),)
$(PLAIN_LIB): $(SHIM_SRCS) $(wildcard shim/*.h) $(EXPORTS_MAP)
	$(MAKE) --no-print-directory SANITIZE= $@
endif

# The default suite (or, with SANITIZE=..., that sanitizer's suite).
check:
	$(MAKE) all servers $(OUT)/tests/unit $(PLAIN_LIB)
	$(OUT)/tests/unit
	$(SAN_ENV) /usr/bin/python3 tests/integration/run.py

# What CI runs (.ci/run calls exactly `make test`). Each part runs even when
# an earlier one failed; the last line sums them all: "N passed, N failed".
ifeq ($(SANITIZE),)
test: deps
	@sh tests/run-all "$(MAKE)" "$(FUZZ_CI_SECONDS)"
else
test: deps check
endif

# ---- fuzzing the response scanner (clang's libFuzzer), the soak test
FUZZ_CC         ?= clang
FUZZ_SECONDS    ?= 60
FUZZ_CI_SECONDS ?= 60
FUZZ_DIR        := $(BUILD)/fuzz
FUZZ_CFLAGS     := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Ishim \
                   -fsanitize=address,undefined -fno-sanitize-recover=all
# Coverage for the scanner only, without comparison tracing (the dictionary
# gives the tokens): twice the executions per second for the same coverage.
FUZZ_COVERAGE   := -fsanitize=fuzzer-no-link -fno-sanitize-coverage=trace-cmp

$(FUZZ_DIR)/fuzz_scan: tests/fuzz/fuzz_scan.c shim/scan.c shim/scan.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/scan.c -o $(FUZZ_DIR)/scan.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c tests/fuzz/fuzz_scan.c -o $(FUZZ_DIR)/fuzz_scan.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_DIR)/fuzz_scan.o $(FUZZ_DIR)/scan.o

# The request scanners' target (tests/fuzz/fuzz_req.c): whole vs split feeds.
$(FUZZ_DIR)/fuzz_req: tests/fuzz/fuzz_req.c $(REQ_SRCS) shim/reqscan.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/req_detect.c -o $(FUZZ_DIR)/req_detect.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/req_http.c -o $(FUZZ_DIR)/req_http.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/req_uwsgi.c -o $(FUZZ_DIR)/req_uwsgi.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/req_scgi.c -o $(FUZZ_DIR)/req_scgi.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/req_fcgi.c -o $(FUZZ_DIR)/req_fcgi.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c tests/fuzz/fuzz_req.c -o $(FUZZ_DIR)/fuzz_req.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_DIR)/fuzz_req.o \
	    $(patsubst shim/%.c,$(FUZZ_DIR)/%.o,$(REQ_SRCS))

# FUZZ_FLAGS adds libFuzzer options (e.g. FUZZ_SECONDS=7200 FUZZ_FLAGS=-runs=100000000).
# FUZZ_REQ_SECONDS: the request scanners' share (small state machines: fast).
FUZZ_REQ_SECONDS ?= 15
fuzz: $(FUZZ_DIR)/fuzz_scan $(FUZZ_DIR)/fuzz_req
	@sh tests/fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_FLAGS); a=$$?; \
	FUZZ_TARGET=fuzz_req sh tests/fuzz/run $(FUZZ_DIR) $(FUZZ_REQ_SECONDS) $(FUZZ_FLAGS); b=$$?; \
	[ $$a -eq 0 ] && [ $$b -eq 0 ]

# SOAK_ARGS: see tests/soak/soak.py --help (e.g. --connections 20000).
soak: all servers
	/usr/bin/python3 tests/soak/soak.py $(SOAK_ARGS)

# ---- make demo: the problem and the fix side by side, with scripts/linger-ab
# DEMO_REQUESTS uploads of DEMO_SIZE through nginx (proxy_request_buffering off)
# to a legacy upstream that answers an early 413 and closes: without linger,
# then with it. DEMO_ARGS adds linger-ab options (e.g. --out DIR).
DEMO_REQUESTS    ?= 200
DEMO_SIZE        ?= 4m
DEMO_CONCURRENCY ?= 4
DEMO_ARGS        ?=
.PHONY: demo
demo:
	@sh scripts/install-test-deps demo
	@$(MAKE) --no-print-directory SANITIZE= all $(BUILD)/linger-ab-client $(BUILD)/tests/legacy_server
	@echo "make demo: $(DEMO_REQUESTS) uploads through nginx to a legacy server that answers 413 early and closes;"
	@echo "           first without linger, then with it"
	@/usr/bin/python3 scripts/linger-ab --lib $(BUILD)/liblinger.so --via-nginx --requests $(DEMO_REQUESTS) \
	    --body-size $(DEMO_SIZE) --concurrency $(DEMO_CONCURRENCY) --path /upload $(DEMO_ARGS) \
	    -- $(BUILD)/tests/legacy_server --model threads --port {port}

# ---- make bench: what linger costs, each figure next to its target and how it
# was measured (bench/run.py; about 3 minutes). BENCH_ONLY=hotpath,nginx,
# capacity,drain,close,fork runs those figures only.
BENCH_ONLY ?=
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
.PHONY: bench
$(BUILD)/bench:
	mkdir -p $@

$(BUILD)/bench/scanbench: bench/scanbench.c shim/scan.c shim/scan.h | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -fno-strict-aliasing -Ishim -o $@ bench/scanbench.c shim/scan.c

$(BUILD)/bench/%: bench/%.c bench/bench.h tests/servers/kit.h | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -o $@ $< -ldl -lpthread

bench:
	@sh scripts/install-bench-deps
	@$(MAKE) --no-print-directory SANITIZE= all $(BUILD)/tests/legacy_server $(BENCH_BINS)
	@/usr/bin/python3 bench/run.py $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

clean:
	rm -rf $(BUILD)

# ---- musl build, install (scripts/linger-run, docs/linger-run.1)
MUSL_CC      ?= musl-gcc
MUSL_OBJS    := $(patsubst shim/%.c,$(BUILD)/musl/%.o,$(SHIM_SRCS))
MUSL_CFLAGS   = $(filter-out $(SAN_FLAGS),$(SHIM_CFLAGS))
MUSL_LDFLAGS  = $(filter-out $(SAN_FLAGS),$(SHIM_LDFLAGS))
PREFIX       ?= /usr/local
DESTDIR      ?=
INST_BIN      = $(DESTDIR)$(PREFIX)/bin
INST_LIB      = $(DESTDIR)$(PREFIX)/lib/linger
INST_MAN1     = $(DESTDIR)$(PREFIX)/share/man/man1

.PHONY: musl install uninstall
musl: $(BUILD)/liblinger-musl.so

$(BUILD)/musl:
	@command -v $(MUSL_CC) >/dev/null 2>&1 || { echo "make musl: $(MUSL_CC) not found (Debian: apt-get install musl-tools)" >&2; exit 1; }
	mkdir -p $@

$(BUILD)/musl/%.o: shim/%.c $(wildcard shim/*.h) | $(BUILD)/musl
	$(MUSL_CC) $(MUSL_CFLAGS) -c $< -o $@

$(BUILD)/liblinger-musl.so: $(MUSL_OBJS) $(EXPORTS_MAP)
	$(MUSL_CC) $(MUSL_LDFLAGS) -o $@ $(MUSL_OBJS) $(SHIM_LIBS)

# The musl library is installed too when it has been built (and is rebuilt
# first if the sources changed).
install: all
	@if [ -f $(BUILD)/liblinger-musl.so ]; then $(MAKE) --no-print-directory musl; fi
	install -d "$(INST_BIN)" "$(INST_LIB)" "$(INST_MAN1)"
	install -m 0644 $(BUILD)/liblinger.so "$(INST_LIB)/liblinger.so"
	if [ -f $(BUILD)/liblinger-musl.so ]; then install -m 0644 $(BUILD)/liblinger-musl.so "$(INST_LIB)/liblinger-musl.so"; fi
	install -m 0644 VERSION "$(INST_LIB)/VERSION"
	install -m 0755 scripts/linger-run "$(INST_BIN)/linger-run"
	install -m 0644 docs/linger-run.1 "$(INST_MAN1)/linger-run.1"

uninstall:
	rm -f "$(INST_LIB)/liblinger.so" "$(INST_LIB)/liblinger-musl.so" "$(INST_LIB)/VERSION" \
	      "$(INST_BIN)/linger-run" "$(INST_MAN1)/linger-run.1"
	if [ -d "$(INST_LIB)" ]; then rmdir "$(INST_LIB)" 2>/dev/null || echo "kept $(INST_LIB): not empty"; fi
