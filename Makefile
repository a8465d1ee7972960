# carbonbpf build. `make` builds ./carbonbpf; `make test` builds with ASan/UBSan and runs every test.
ARCH      ?= x86
BUILD     ?= build
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PKGS      := libbpf libcurl libcjson
SANITIZE  ?= 0

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iuser -Ibpf -I$(BUILD) \
             $(shell pkg-config --cflags $(PKGS))
LDLIBS    += $(shell pkg-config --libs $(PKGS)) -lm
ifeq ($(SANITIZE),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ivmlinux/$(ARCH) -Ibpf

USER_SRCS := $(wildcard user/*.c user/gen/*.c)
USER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(USER_SRCS))
LIB_OBJS  := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(BPFT_SRCS))
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_BINS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
SKEL      := $(BUILD)/carbonbpf.skel.h

.PHONY: all test unit bench vmlinux clean install
all: $(BUILD)/carbonbpf carbonbpf $(TOOL_BINS)

carbonbpf: $(BUILD)/carbonbpf
	@if [ "$(BUILD)" = build ]; then ln -sf $(BUILD)/carbonbpf carbonbpf; fi

$(BUILD)/carbonbpf.bpf.o: bpf/carbonbpf.bpf.c bpf/carbonbpf.h vmlinux/$(ARCH)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BUILD)/carbonbpf.bpf.o
	$(BPFTOOL) gen skeleton $< name carbonbpf_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/user/%.o: user/%.c $(SKEL) $(wildcard user/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/carbonbpf: $(USER_OBJS)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ -lm -lpthread

unit: $(UNIT_BINS) $(BPFT_BINS)

# The whole suite (unit, BPF, integration) against a sanitizer build.
test:
	$(MAKE) BUILD=build/san SANITIZE=1 all unit
	BUILD=build/san tests/run

bench: all
	bench/run

# Regenerate the checked-in vmlinux.h from the running kernel's BTF (explicit only).
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

install: all
	install -D -m 0755 $(BUILD)/carbonbpf $(DESTDIR)/usr/local/bin/carbonbpf

clean:
	rm -rf build carbonbpf
