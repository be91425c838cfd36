# linger - lingering close for unmodified servers, as an LD_PRELOAD shim.
#   make            build build/liblinger.so
#   make test       install test dependencies (as root), build, run every default test
#   make unit       criterion unit tests of the pure modules
#   make integration  real servers and clients, with and without the shim
#   make clean      remove build/

CC       := gcc
SANITIZE ?=
BUILD    := build
CFLAGS_COMMON := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC
SHIM_CFLAGS   := $(CFLAGS_COMMON) -fvisibility=hidden -fno-strict-aliasing
SHIM_LDFLAGS  := -shared -Wl,-z,relro,-z,now -Wl,--no-undefined
SHIM_LIBS     := -ldl -lpthread
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
SHIM_CFLAGS += $(SAN_FLAGS)
SHIM_LDFLAGS := $(filter-out -Wl$(comma)--no-undefined,$(SHIM_LDFLAGS)) $(SAN_FLAGS)
endif
comma := ,

SHIM_SRCS := $(wildcard shim/*.c)
SHIM_OBJS := $(patsubst shim/%.c,$(BUILD)/shim/%.o,$(SHIM_SRCS))
PURE_SRCS := shim/scan.c shim/config_parse.c
UNIT_SRCS := $(wildcard tests/unit/*.c)
SERVER_SRCS := $(wildcard tests/servers/*.c)
SERVER_BINS := $(patsubst tests/servers/%.c,$(BUILD)/tests/%,$(SERVER_SRCS))

.PHONY: all clean test unit integration deps servers
all: $(BUILD)/liblinger.so

$(BUILD)/shim/%.o: shim/%.c $(wildcard shim/*.h) | $(BUILD)/shim
	$(CC) $(SHIM_CFLAGS) -c $< -o $@

$(BUILD)/liblinger.so: $(SHIM_OBJS)
	$(CC) $(SHIM_LDFLAGS) -o $@ $^ $(SHIM_LIBS)

$(BUILD)/shim $(BUILD)/tests:
	mkdir -p $@

$(BUILD)/tests/unit: $(UNIT_SRCS) $(PURE_SRCS) $(wildcard shim/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -Ishim -o $@ $(UNIT_SRCS) $(PURE_SRCS) -lcriterion

$(BUILD)/tests/%: tests/servers/%.c | $(BUILD)/tests
	$(CC) $(CFLAGS_COMMON) $(SAN_FLAGS) -o $@ $< -lpthread

servers: $(SERVER_BINS)

deps:
	@sh scripts/install-test-deps

unit: $(BUILD)/tests/unit
	$(BUILD)/tests/unit

integration: all servers
	/usr/bin/python3 tests/integration/run.py

test: deps
	$(MAKE) all servers $(BUILD)/tests/unit
	$(BUILD)/tests/unit
	/usr/bin/python3 tests/integration/run.py

clean:
	rm -rf $(BUILD)
