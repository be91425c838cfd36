# linger - lingering close for unmodified servers, as an LD_PRELOAD shim.
#   make            build build/liblinger.so
#   make test       install test dependencies (as root), build, run every default test
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
SHIM_LDFLAGS  := -shared -Wl,-z,relro,-z,now -Wl,--no-undefined
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
SHIM_LDFLAGS := -shared -Wl,-z,relro,-z,now $(SAN_FLAGS)
SAN_RUNTIMES := $(foreach s,$(subst $(comma), ,$(SANITIZE)),$(shell $(CC) -print-file-name=lib$(patsubst undefined,ubsan,$(patsubst address,asan,$(patsubst thread,tsan,$(s)))).so))
SAN_ENV      := LINGER_IT_SHIM=$(OUT)/liblinger.so LINGER_IT_PRELOAD_FIRST="$(SAN_RUNTIMES)" LINGER_IT_SANITIZE=$(SANITIZE)
else
OUT          := $(BUILD)
endif

SHIM_SRCS := $(wildcard shim/*.c)
SHIM_OBJS := $(patsubst shim/%.c,$(OUT)/shim/%.o,$(SHIM_SRCS))
PURE_SRCS := shim/scan.c shim/config_parse.c
UNIT_SRCS := $(wildcard tests/unit/*.c)
SERVER_SRCS := $(wildcard tests/servers/*.c)
SERVER_BINS := $(patsubst tests/servers/%.c,$(BUILD)/tests/%,$(SERVER_SRCS))

.PHONY: all clean test unit integration deps servers
all: $(OUT)/liblinger.so

$(OUT)/shim/%.o: shim/%.c $(wildcard shim/*.h) | $(OUT)/shim
	$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(OUT)/liblinger.so: $(SHIM_OBJS)
	$(CC) $(SHIM_LDFLAGS) -o $@ $^ $(SHIM_LIBS)

$(sort $(BUILD)/shim $(BUILD)/tests $(OUT)/shim $(OUT)/tests):
	mkdir -p $@

$(OUT)/tests/unit: $(UNIT_SRCS) $(PURE_SRCS) $(wildcard shim/*.h) | $(OUT)/tests
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -Ishim -o $@ $(UNIT_SRCS) $(PURE_SRCS) -lcriterion

$(BUILD)/tests/%: tests/servers/%.c | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) -o $@ $< -lpthread

servers: $(SERVER_BINS)

deps:
	@sh scripts/install-test-deps

unit: $(OUT)/tests/unit
	$(OUT)/tests/unit

integration: all servers
	$(SAN_ENV) /usr/bin/python3 tests/integration/run.py

test: deps
	$(MAKE) all servers $(OUT)/tests/unit
	$(OUT)/tests/unit
	$(SAN_ENV) /usr/bin/python3 tests/integration/run.py

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

$(BUILD)/liblinger-musl.so: $(MUSL_OBJS)
	$(MUSL_CC) $(MUSL_LDFLAGS) -o $@ $^ $(SHIM_LIBS)

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
