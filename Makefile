# SPDX-License-Identifier: MIT
# The two commands of README.md, and their helpers. Meson does the building;
# this file installs what is missing, picks the build folders and runs things.
#
#   make run     build and run gate26 on etc/gate26.dev.conf (loopback ports)
#   make test    ASan+UBSan build, unit tests, end-to-end tests
#   make fuzz    libFuzzer targets, each for FUZZ_SECONDS
#   make bench   bench/accept: gate26 against Postfix (see bench/RESULTS.md)
#   make bench-relay  bench/relay: smtp-source -> gate26 -> smtp-sink, against Postfix
#   make format  clang-format every C file
#   make deb     the Debian package, in build-deb/ (docs/packaging.md)

PYTHON      ?= /usr/bin/python3
BUILD       := build
TEST_BUILD  := build-test
FUZZ_BUILD  := build-fuzz
DEB_BUILD   ?= build-deb
FUZZ_SECONDS ?= 60
DEV_TLS     := $(BUILD)/dev-tls

.PHONY: all deps build run test unit e2e pkg deb fuzz bench bench-relay format clean

all: build

deps:
	@./tools/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release -Dtests=disabled

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# A self-signed certificate for the development config, made once.
$(DEV_TLS)/cert.pem:
	mkdir -p $(DEV_TLS)
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout $(DEV_TLS)/key.pem -out $(DEV_TLS)/cert.pem 2>/dev/null
	# Run as root, gate26 reads it again as the user gate26 at a reload (SIGHUP).
	if [ "$$(id -u)" = 0 ]; then chgrp gate26 $(DEV_TLS)/key.pem && chmod 640 $(DEV_TLS)/key.pem; fi

# A user for trying AUTH on the development doors: dev@gate26.localhost, password dev.
$(BUILD)/dev-passwd:
	printf 'dev\n' | ./$(BUILD)/src/gate26 passwd -c etc/gate26.dev.conf dev@gate26.localhost

run: build $(DEV_TLS)/cert.pem $(BUILD)/dev-passwd
	mkdir -p $(BUILD)/dev-spool
	./$(BUILD)/src/gate26 serve -c etc/gate26.dev.conf

$(TEST_BUILD)/build.ninja:
	meson setup $(TEST_BUILD) --buildtype=debug -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dfaults=true -Dtests=enabled

unit: deps $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)
	meson test -C $(TEST_BUILD) --print-errorlogs

e2e: unit
	GATE26_BIN=$(CURDIR)/$(TEST_BUILD)/src/gate26 $(PYTHON) -m pytest -q tests/e2e

# The package: built (make deb in a folder of the tests'), checked, and installed, upgraded,
# removed and purged in a throwaway Debian root (tests/pkg).
pkg: deps
	$(PYTHON) -m pytest -q tests/pkg

# The release build too: make run uses it, and -O3 finds warnings (errors here) -O0 does not.
test: build e2e pkg

# dpkg-buildpackage on a copy of the tree's tracked files (never its build folders), in
# $(DEB_BUILD)/gate26; the .deb lands in $(DEB_BUILD)/.
deb: deps
	rm -rf $(DEB_BUILD)/gate26 $(DEB_BUILD)/gate26_* $(DEB_BUILD)/gate26-dbgsym_*
	mkdir -p $(DEB_BUILD)/gate26
	git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C $(DEB_BUILD)/gate26
	cd $(DEB_BUILD)/gate26 && dpkg-buildpackage -b -us -uc
	ls $(DEB_BUILD)/gate26_*.deb

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true -Dtests=disabled

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	./tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	./bench/accept

bench-relay: build
	./bench/relay

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD) build-deb
