# linger - lingering close for unmodified servers, as an LD_PRELOAD shim.
#   make            build build/liblinger.so
#   make test       install test dependencies (as root), build, run everything CI runs:
#                   the default suite, the suite under SANITIZE=thread and under
#                   SANITIZE=address,undefined, and a 75-second fuzz of the scanners
#   make check      the default suite alone (unit + integration); with SANITIZE=...,
#                   that sanitizer's suite (make test SANITIZE=... runs just that)
#   make fuzz       libFuzzer on the response scanner for FUZZ_SECONDS (60), split between
#                   its two targets (fuzz_scan, fuzz_scan_diff), then on the request
#                   scanners for FUZZ_REQ_SECONDS (15), split between fuzz_req and fuzz_req_diff
#   make soak       100,000 connections through the shim; not part of make test
#   make demo       uploads through nginx without and with linger, side by side (linger-ab)
#   make bench      what linger costs: hot path, nginx throughput, capacity, drain, close (bench/run.py)
#   make unit       criterion unit tests of the pure modules
#   make integration  real servers and clients, with and without the shim
#   make musl       build build/liblinger-musl.so with musl-gcc (for musl/Alpine programs)
#   make install    install the library, the three scripts, linger-ab's client, linger-supervise and the four
#                   man pages under $(DESTDIR)$(PREFIX) (PREFIX, BINDIR, LIBDIR, MANDIR)
#   make deb        build/linger_VERSION_amd64.deb (dpkg-deb, from make install)
#   make uninstall  remove what make install installed
#   make clean      remove build/

CC       := gcc
BUILD    := build
comma    := ,
CFLAGS_COMMON := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC
# -fno-plt: a call into libc goes through its GOT entry, not a PLT stub - one
# jump less, and a fork child never touches the PLT's page (shim/pages.h)
SHIM_CFLAGS   := $(CFLAGS_COMMON) -fvisibility=hidden -fno-strict-aliasing -fno-plt
# shim/exports.map: the one list of the symbols the library exports (the
# interposed calls), as a version script
EXPORTS_MAP   := shim/exports.map
SHIM_LDFLAGS  := -shared -Wl,-z,relro,-z,now -Wl,--no-undefined -Wl,--version-script=$(EXPORTS_MAP)
SHIM_LIBS     := -ldl -lpthread
# One build for old hosts: the plain glibc build binds no glibc symbol newer
# than GLIBC_2.17 (shim/glibc_compat.h pins the versions; objdump -T shows
# them), and names libdl.so.2 and libpthread.so.0, where dlsym and the
# threads functions lived before glibc 2.34.
COMPAT_CFLAGS := -include shim/glibc_compat.h
COMPAT_LIBS   := -Wl,--push-state,--no-as-needed -l:libdl.so.2 -l:libpthread.so.0 -Wl,--pop-state

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
SHIM_CFLAGS  += $(COMPAT_CFLAGS)
SHIM_LIBS    := $(COMPAT_LIBS) $(SHIM_LIBS)
endif

SHIM_SRCS := $(wildcard shim/*.c)
SHIM_OBJS := $(patsubst shim/%.c,$(OUT)/shim/%.o,$(SHIM_SRCS))
SCAN_SRCS := shim/scan_ref.c shim/scan_fast.c
REQ_SRCS  := shim/req_detect.c shim/req_http.c shim/req_http_fast.c shim/req_uwsgi.c shim/req_scgi.c shim/req_fcgi.c
PURE_SRCS := $(SCAN_SRCS) shim/config_parse.c shim/log_line.c $(REQ_SRCS) supervise/procparse.c
# shim modules the unit tests link, each tested in tests/unit/test_<module>.c;
# what they call of the rest (log_msg) the tests stand in for
UNIT_SHIM_SRCS := shim/stats.c shim/decide.c shim/fdtable.c shim/fdring.c shim/drainslots.c shim/probe.c \
                  shim/owner.c shim/real.c shim/holders.c shim/config.c shim/config_env.c shim/ownfd.c
UNIT_SRCS := $(wildcard tests/unit/*.c)
SERVER_SRCS := $(filter-out tests/servers/lib%.c,$(wildcard tests/servers/*.c))
SERVER_BINS := $(patsubst tests/servers/%.c,$(BUILD)/tests/%,$(SERVER_SRCS))
# tests/servers/libNAME.c: small preload libraries for fault tests
SERVER_LIBS := $(patsubst tests/servers/%.c,$(BUILD)/tests/%.so,$(wildcard tests/servers/lib*.c))

.PHONY: all clean test unit integration deps servers check fuzz soak
all: $(OUT)/liblinger.so $(BUILD)/linger-ab-client $(BUILD)/linger-supervise

$(OUT)/shim/%.o: shim/%.c $(wildcard shim/*.h) | $(OUT)/shim
	$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(OUT)/liblinger.so: $(SHIM_OBJS) $(EXPORTS_MAP)
	$(CC) $(SHIM_LDFLAGS) -o $@ $(SHIM_OBJS) $(SHIM_LIBS)

$(sort $(BUILD)/shim $(BUILD)/tests $(OUT)/shim $(OUT)/tests):
	mkdir -p $@

$(OUT)/tests/unit: $(UNIT_SRCS) $(PURE_SRCS) $(UNIT_SHIM_SRCS) $(wildcard shim/*.h) supervise/procparse.h | $(OUT)/tests
	$(CC) $(CFLAGS_COMMON) $(UNIT_SAN_FLAGS) -Ishim -Isupervise -o $@ $(UNIT_SRCS) $(PURE_SRCS) $(UNIT_SHIM_SRCS) -lcriterion -ldl -lpthread

# linger-supervise: the seccomp user-notification supervisor linger-run
# uses for static programs (supervise/; docs/static.md). It reuses the
# library's LINGER_* reading (config_env.c, config_parse.c), its log line
# format and its stats file format, not its hooks. Always a
# plain build, like the test servers.
SUPERVISE_SRCS := $(wildcard supervise/*.c)
SUPERVISE_OBJS := $(patsubst supervise/%.c,$(BUILD)/supervise/%.o,$(SUPERVISE_SRCS)) \
                  $(BUILD)/supervise/shim_stats.o $(BUILD)/supervise/shim_config_parse.o \
                  $(BUILD)/supervise/shim_config_env.o $(BUILD)/supervise/shim_log_line.o
SUPERVISE_HDRS := $(wildcard supervise/*.h) shim/config_parse.h shim/config_env.h shim/log_line.h \
                  shim/stats.h shim/log.h shim/real.h

$(BUILD)/supervise:
	mkdir -p $@

$(BUILD)/supervise/%.o: supervise/%.c $(SUPERVISE_HDRS) | $(BUILD)/supervise
	$(CC) $(CFLAGS_COMMON) -Ishim -c $< -o $@

$(BUILD)/supervise/shim_%.o: shim/%.c $(SUPERVISE_HDRS) | $(BUILD)/supervise
	$(CC) $(CFLAGS_COMMON) -Ishim -c $< -o $@

$(BUILD)/linger-supervise: $(SUPERVISE_OBJS)
	$(CC) -o $@ $^

# the client of scripts/linger-ab: sends each whole request, then reads the response
$(BUILD)/linger-ab-client: scripts/linger-ab-client.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_COMMON) -Wl,-z,relro,-z,now -o $@ $< -lpthread

$(BUILD)/tests/%: tests/servers/%.c tests/servers/kit.h | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) -o $@ $< -lpthread

$(BUILD)/tests/lib%.so: tests/servers/lib%.c tests/servers/from_linger.h | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) -shared -o $@ $< -ldl

# Static builds of test servers, for linger-run's supervised path
# (tests/integration/test_static.py): glibc -static always, musl-gcc
# -static when musl-gcc is installed.
STATIC_SERVER_NAMES := legacy_server static_probe
STATIC_SERVERS := $(patsubst %,$(BUILD)/tests/static/%-glibc,$(STATIC_SERVER_NAMES)) \
                  $(if $(shell command -v musl-gcc 2>/dev/null),$(patsubst %,$(BUILD)/tests/static/%-musl,$(STATIC_SERVER_NAMES)))

$(BUILD)/tests/static:
	mkdir -p $@

$(BUILD)/tests/static/%-glibc: tests/servers/%.c tests/servers/kit.h | $(BUILD)/tests/static
	$(CC) $(CFLAGS_COMMON) -static -o $@ $< -lpthread

$(BUILD)/tests/static/%-musl: tests/servers/%.c tests/servers/kit.h | $(BUILD)/tests/static
	musl-gcc $(CFLAGS_COMMON) -static -o $@ $<

servers: $(SERVER_BINS) $(SERVER_LIBS) $(STATIC_SERVERS)

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

# The scanner, built once for both targets: fuzz_scan (the scanner against
# itself fed in every way) and fuzz_scan_diff (the fast path against the
# reference machine).
$(FUZZ_DIR)/scan.a: $(SCAN_SRCS) $(wildcard shim/scan*.h) shim/cpu_way.h shim/pages.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/scan_ref.c -o $(FUZZ_DIR)/scan_ref.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c shim/scan_fast.c -o $(FUZZ_DIR)/scan_fast.o
	ar rcs $@ $(FUZZ_DIR)/scan_ref.o $(FUZZ_DIR)/scan_fast.o

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_rng.h tests/fuzz/fuzz_scan_state.h $(FUZZ_DIR)/scan.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $(FUZZ_DIR)/fuzz_$*.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $(FUZZ_DIR)/fuzz_$*.o $(FUZZ_DIR)/scan.a

# The request scanners, built once for their two targets: fuzz_req (every
# scanner against itself fed in every way) and fuzz_req_diff (the HTTP fast
# path against the byte machine).
$(FUZZ_DIR)/req_%.o: shim/req_%.c shim/reqscan.h shim/req_http.h shim/req_whole.h shim/cpu_way.h shim/pages.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_COVERAGE) -c $< -o $@

$(FUZZ_DIR)/req.a: $(patsubst shim/%.c,$(FUZZ_DIR)/%.o,$(REQ_SRCS))
	ar rcs $@ $^

FUZZ_REQ_DEPS := tests/fuzz/fuzz_rng.h tests/fuzz/fuzz_req_state.h $(FUZZ_DIR)/req.a
$(FUZZ_DIR)/fuzz_req: tests/fuzz/fuzz_req.c $(FUZZ_REQ_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $@.o $(FUZZ_DIR)/req.a

$(FUZZ_DIR)/fuzz_req_diff: tests/fuzz/fuzz_req_diff.c $(FUZZ_REQ_DEPS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@.o
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $@.o $(FUZZ_DIR)/req.a

# FUZZ_FLAGS adds libFuzzer options (e.g. FUZZ_SECONDS=7200 FUZZ_FLAGS=-runs=100000000).
# FUZZ_REQ_SECONDS: the request scanners' share (small state machines: fast).
FUZZ_REQ_SECONDS ?= 15
fuzz: $(FUZZ_DIR)/fuzz_scan $(FUZZ_DIR)/fuzz_scan_diff $(FUZZ_DIR)/fuzz_req $(FUZZ_DIR)/fuzz_req_diff
	@sh tests/fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_FLAGS); a=$$?; \
	FUZZ_TARGETS="fuzz_req fuzz_req_diff" sh tests/fuzz/run $(FUZZ_DIR) $(FUZZ_REQ_SECONDS) $(FUZZ_FLAGS); b=$$?; \
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
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out bench/touchlib.c,$(wildcard bench/*.c))) \
              $(BUILD)/bench/touchlib.so
.PHONY: bench
$(BUILD)/bench:
	mkdir -p $@

$(BUILD)/bench/scanbench: bench/scanbench.c $(SCAN_SRCS) $(wildcard shim/scan*.h) shim/pages.h | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -fno-strict-aliasing -Ishim -o $@ bench/scanbench.c $(SCAN_SRCS)

$(BUILD)/bench/reqbench: bench/reqbench.c $(REQ_SRCS) shim/reqscan.h shim/req_http.h shim/req_whole.h shim/pages.h | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -fno-strict-aliasing -Ishim -o $@ bench/reqbench.c $(REQ_SRCS)

# the library preloaded in the shim's place for the anchors of figures 2 and 6
$(BUILD)/bench/touchlib.so: bench/touchlib.c | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -shared -o $@ $<

# static: it measures the supervised path of linger-run (figure "static")
$(BUILD)/bench/staticclose: bench/staticclose.c bench/bench.h | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -static -o $@ $<

$(BUILD)/bench/%: bench/%.c bench/bench.h tests/servers/kit.h | $(BUILD)/bench
	$(CC) $(CFLAGS_COMMON) -o $@ $< -ldl -lpthread

bench:
	@sh scripts/install-bench-deps
	@$(MAKE) --no-print-directory SANITIZE= all $(BUILD)/tests/legacy_server $(BENCH_BINS) $(BUILD)/tests/static/legacy_server-glibc
	@/usr/bin/python3 bench/run.py $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

clean:
	rm -rf $(BUILD)

# ---- musl build
MUSL_CC      ?= musl-gcc
MUSL_OBJS    := $(patsubst shim/%.c,$(BUILD)/musl/%.o,$(SHIM_SRCS))
MUSL_CFLAGS   = $(filter-out $(SAN_FLAGS) $(COMPAT_CFLAGS),$(SHIM_CFLAGS))
MUSL_LDFLAGS  = $(filter-out $(SAN_FLAGS),$(SHIM_LDFLAGS))
.PHONY: musl install uninstall
musl: $(BUILD)/liblinger-musl.so

$(BUILD)/musl:
	@command -v $(MUSL_CC) >/dev/null 2>&1 || { echo "make musl: $(MUSL_CC) not found (Debian: apt-get install musl-tools)" >&2; exit 1; }
	mkdir -p $@

$(BUILD)/musl/%.o: shim/%.c $(wildcard shim/*.h) | $(BUILD)/musl
	$(MUSL_CC) $(MUSL_CFLAGS) -c $< -o $@

$(BUILD)/liblinger-musl.so: $(MUSL_OBJS) $(EXPORTS_MAP)
	$(MUSL_CC) $(MUSL_LDFLAGS) -o $@ $(MUSL_OBJS) -ldl -lpthread

# ---- make install, make uninstall, make deb
# PREFIX (/usr/local), BINDIR, LIBDIR and MANDIR as usual; the library, its
# VERSION and the helper executables go to $(LIBDIR)/linger (PKGLIBDIR), where
# the installed linger-run and linger-ab find them: install rewrites their
# PKGLIBDIR line to that directory as seen from BINDIR, so a staged tree
# (DESTDIR) works where it lies and can be moved as a whole. The Debian
# package: PREFIX=/usr LIBDIR=/usr/lib/<triplet> (make deb).
PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
PKGLIBDIR    ?= $(LIBDIR)/linger
MANDIR       ?= $(PREFIX)/share/man
# What install installs. HELPERS: executables the scripts run, kept next to
# the library (add a program here and to all: install, uninstall and the
# package follow).
SCRIPTS      := linger-run linger-ab linger-stat
HELPERS      := $(BUILD)/linger-ab-client $(BUILD)/linger-supervise
MAN1         := linger-run.1 linger-ab.1 linger-stat.1
MAN7         := liblinger.7
# The musl library is installed too when it has been built (and is rebuilt
# first if the sources changed); INSTALL_MUSL=no leaves it out.
INSTALL_MUSL ?= auto
PKGLIBDIR_REL = $(shell realpath -m --relative-to="$(BINDIR)" "$(PKGLIBDIR)")

install: all $(HELPERS)
	@if [ "$(INSTALL_MUSL)" != no ] && [ -f $(BUILD)/liblinger-musl.so ]; then $(MAKE) --no-print-directory musl; fi
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(PKGLIBDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man7"
	install -m 0644 $(BUILD)/liblinger.so "$(DESTDIR)$(PKGLIBDIR)/liblinger.so"
	if [ "$(INSTALL_MUSL)" != no ] && [ -f $(BUILD)/liblinger-musl.so ]; then install -m 0644 $(BUILD)/liblinger-musl.so "$(DESTDIR)$(PKGLIBDIR)/liblinger-musl.so"; fi
	install -m 0644 VERSION "$(DESTDIR)$(PKGLIBDIR)/VERSION"
	install -m 0755 $(HELPERS) "$(DESTDIR)$(PKGLIBDIR)/"
	for s in $(SCRIPTS); do \
	    sed -e 's|^lr_pkglibdir=.*|lr_pkglibdir=$(PKGLIBDIR_REL)|' \
	        -e 's|^PKGLIBDIR = .*|PKGLIBDIR = "$(PKGLIBDIR_REL)"|' scripts/$$s >"$(DESTDIR)$(BINDIR)/$$s.tmp" && \
	    chmod 0755 "$(DESTDIR)$(BINDIR)/$$s.tmp" && mv -f "$(DESTDIR)$(BINDIR)/$$s.tmp" "$(DESTDIR)$(BINDIR)/$$s" || exit 1; \
	done
	install -m 0644 $(addprefix docs/,$(MAN1)) "$(DESTDIR)$(MANDIR)/man1/"
	install -m 0644 $(addprefix docs/,$(MAN7)) "$(DESTDIR)$(MANDIR)/man7/"

uninstall:
	rm -f "$(DESTDIR)$(PKGLIBDIR)/liblinger.so" "$(DESTDIR)$(PKGLIBDIR)/liblinger-musl.so" \
	      "$(DESTDIR)$(PKGLIBDIR)/VERSION" $(foreach h,$(HELPERS),"$(DESTDIR)$(PKGLIBDIR)/$(notdir $(h))") \
	      $(foreach s,$(SCRIPTS),"$(DESTDIR)$(BINDIR)/$(s)") \
	      $(foreach m,$(MAN1),"$(DESTDIR)$(MANDIR)/man1/$(m)") $(foreach m,$(MAN7),"$(DESTDIR)$(MANDIR)/man7/$(m)")
	if [ -d "$(DESTDIR)$(PKGLIBDIR)" ]; then rmdir "$(DESTDIR)$(PKGLIBDIR)" 2>/dev/null || echo "kept $(DESTDIR)$(PKGLIBDIR): not empty"; fi

# build/linger_VERSION_ARCH.deb, from `make install` into a staging tree
# (scripts/build-deb: Debian's places, compressed man pages, copyright,
# changelog, Depends from dpkg-shlibdeps; lintian when installed).
.PHONY: deb
deb:
	@sh scripts/build-deb "$(MAKE)" $(BUILD)
