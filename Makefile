# tlsfast developer commands.  Everything installs itself into ./.venv.
#   make serve   -- the main job: demo HTTPS/echo server with a test certificate
#   make test    -- the test suite, both implementations (fails if the C one did not build)
#   make info    -- which implementation, which OpenSSL
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
EXT_SRC := tlsfast/_tls_c.pyx $(wildcard tlsfast/*.pxi) $(wildcard tlsfast/*.pxd) tlsfast/_slot_cache.h setup.py
EXT := $(shell $(PY) -c "import sysconfig; print('tlsfast/_tls_c' + sysconfig.get_config_var('EXT_SUFFIX'))")
PYTEST_ARGS ?=

.PHONY: venv build serve test info clean check-c test-stdlib

$(VENV)/.stamp: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "setuptools>=77" wheel "Cython>=3.0"
	$(BIN)/pip install -q -e ".[test,demo]" --no-build-isolation
	touch $@

venv: $(VENV)/.stamp

$(EXT): $(VENV)/.stamp $(EXT_SRC)
	TLSFAST_BUILD=c $(PYTHON) setup.py -q build_ext --inplace

build: $(EXT) check-c

# a fallback must never hide a broken build
check-c: $(EXT)
	TLSFAST_IMPL=c $(PYTHON) -c "import tlsfast, tlsfast._tls_c; assert tlsfast.__impl__ == 'c'; print('tlsfast', tlsfast.__impl__, tlsfast.OPENSSL_VERSION)"

serve: build
	$(PYTHON) -m tlsfast serve $(ARGS)

info: build
	$(PYTHON) -m tlsfast info

test: build
	$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf build $(VENV) tlsfast/_tls_c.c tlsfast/*.so tlsfast/_tls_c.html

# make bench -- tlsfast side by side with stdlib ssl, pyOpenSSL and a C floor
# (bench/, docs/benchmarks.md); results go to bench/results/.
#   make bench BENCH_ARGS=--quick        (about 3 minutes; the full run about 25)
#   make bench BENCH_ARGS="--only 'echo*' --reps 5"
BENCH_ARGS ?=
.PHONY: bench

$(VENV)/.bench-stamp: $(VENV)/.stamp pyproject.toml
	$(BIN)/pip install -q -e ".[bench]" --no-build-isolation
	touch $@

bench: build $(VENV)/.bench-stamp
	$(PYTHON) -m bench $(BENCH_ARGS)

# CPython's own test_ssl (installed with Python) with tlsfast in place of ssl
test-stdlib: build
	$(PYTHON) tests/stdlib/run_test_ssl.py --impl python -q
	$(PYTHON) tests/stdlib/run_test_ssl.py --impl c -q

# make test-asyncio-stdlib -- CPython's own test_asyncio.test_ssl and
# test_sslproto: with the stdlib (the baseline), then with tlsfast's asyncio
# transport (inject_into_ssl + install on every selector loop), both
# implementations (tests/stdlib/run_test_asyncio_ssl.py; about 1 min each;
# not part of `make test`)
.PHONY: test-asyncio-stdlib
test-asyncio-stdlib: build
	$(PYTHON) tests/stdlib/run_test_asyncio_ssl.py --mode stdlib -q
	$(PYTHON) tests/stdlib/run_test_asyncio_ssl.py --mode tlsfast --impl c -q
	$(PYTHON) tests/stdlib/run_test_asyncio_ssl.py --mode tlsfast --impl python -q

# make soak-asyncio -- tools/soak_asyncio.py for tlsfast (c, python) and the
# stdlib's SSL transport, on asyncio and uvloop: 1,000 concurrent echo
# connections (every byte checked), 10,000 connect/close cycles with the
# descriptor count and RSS checked (about 3 min; not part of `make test`)
#   make soak-asyncio SOAK_ASYNCIO_IMPLS=c SOAK_ASYNCIO_LOOPS=uvloop SOAK_ASYNCIO_ARGS="--cycles 2000"
SOAK_ASYNCIO_IMPLS ?= c python stdlib
SOAK_ASYNCIO_LOOPS ?= asyncio uvloop
SOAK_ASYNCIO_ARGS ?=
.PHONY: soak-asyncio
soak-asyncio: build
	@status=0; for impl in $(SOAK_ASYNCIO_IMPLS); do for loop in $(SOAK_ASYNCIO_LOOPS); do \
		$(NICE) $(PYTHON) tools/soak_asyncio.py --impl $$impl --loop $$loop $(SOAK_ASYNCIO_ARGS) || status=1; \
	done; done; exit $$status

# make test-third-party -- urllib3's own TLS tests (from its PyPI sdist, in a
# venv of their own under build/third-party/) with the stdlib's ssl, then with
# sys.modules["ssl"] = tlsfast for both implementations; a per-test comparison
# at the end (tools/third_party_suite.py; not part of `make test`).
#   make test-third-party THIRD_PARTY_ARGS="--impl c -- -k alpn"
#   make test-third-party THIRD_PARTY_ARGS="--hypercorn /path/to/urllib3-hypercorn-fork"
THIRD_PARTY_ARGS ?=
.PHONY: test-third-party
test-third-party: build
	$(PYTHON) tools/third_party_suite.py $(THIRD_PARTY_ARGS)

# make test-matrix -- `make test test-stdlib` on every CPython >= 3.9 found
# (pyenv's, python3.X on PATH, the system's), one venv each in .venv-matrix/,
# logs in build/matrix/, a table at the end (tools/test_matrix.py).
#   make test-matrix MATRIX_ARGS="--only 3.9 --only 3.13"
MATRIX_ARGS ?=
.PHONY: test-matrix
test-matrix:
	$(PY) tools/test_matrix.py $(MATRIX_ARGS)

# make dist-check -- sdist + wheel from a fresh clone (python -m build), their
# contents checked, the sdist installed in a fresh venv and the suite run
# against it (tools/check_dist.py; DIST_ARGS="--no-suite" for the first part)
DIST_ARGS ?=
.PHONY: dist-check
dist-check:
	$(PY) tools/check_dist.py $(DIST_ARGS)

# make docs -- the Sphinx site (docs/) into docs/_build/html, warnings are errors.
# Intersphinx uses the committed docs/_intersphinx/python3.inv (no download).
SPHINXOPTS ?=
.PHONY: docs

$(VENV)/.docs-stamp: $(VENV)/.stamp pyproject.toml
	$(BIN)/pip install -q -e ".[docs]" --no-build-isolation
	touch $@

docs: build $(VENV)/.docs-stamp
	$(PYTHON) -m sphinx -E -W --keep-going -n -b html $(SPHINXOPTS) docs docs/_build/html

# --- hardening: fuzzing, sanitizers, valgrind, soak ----------------------------
# Instrumented builds go to $(HARDEN_DIR)/<variant>/src, a copy of the sources
# made by tools/build_variant.sh: tlsfast/_tls_c*.so is never rebuilt by these.
#   make fuzz      atheris targets fuzz/fuzz_{server,client,api,certs}.py on a clang
#                  ASan+UBSan+libFuzzer-coverage build, FUZZ_SECONDS each (needs
#                  clang: apt-get install -y clang); crashes in $(HARDEN_DIR)/fuzz/out
#   make asan      the test suite on a gcc ASan+UBSan build, LeakSanitizer on,
#                  then tools/sanitizer_report.py (0 errors / definite leaks in tlsfast)
#   make valgrind  VALGRIND_TESTS under valgrind memcheck (tools/valgrind-python.supp)
#   make soak      tools/soak.py: 100,000 loopback connections and 100,000
#                  memory-BIO handshakes, RSS and tracemalloc growth (about 25 min)
#   make fuzz-corpus   regenerate fuzz/corpus/ from real tlsfast handshakes
HARDEN_DIR ?= build/hardening
NICE ?= nice -n 10
FUZZ_SECONDS ?= 30
FUZZ_TARGETS ?= server client api certs
FUZZ_ARGS ?=
FUZZ_CFLAGS ?= -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer -g -O1
ASAN_CFLAGS ?= -fsanitize=address,undefined -fno-omit-frame-pointer -g -O1
ASAN_PYTEST_ARGS ?=
ASAN_UNWIND ?= fast_unwind_on_malloc=1
VALGRIND_TESTS ?= tests/test_membio.py tests/test_beyond_stdlib.py tests/test_handshake.py \
	tests/test_session.py tests/test_certs.py tests/test_hardening.py
VALGRIND_PYTEST_ARGS ?= -k "not python"
SOAK_ARGS ?=
HARDEN_ABS := $(abspath $(HARDEN_DIR))
PYTHON_ABS = $(abspath $(PYTHON))
.PHONY: fuzz asan valgrind soak fuzz-corpus

$(VENV)/.harden-stamp: $(VENV)/.stamp
	$(BIN)/pip install -q atheris "tqdm>=4.60"
	touch $@

$(HARDEN_DIR)/fuzz/.built: $(VENV)/.stamp $(EXT_SRC)
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install -y clang)"; exit 1; }
	CC=clang CFLAGS="$(FUZZ_CFLAGS)" LDFLAGS="$(FUZZ_CFLAGS)" PYTHON=$(PYTHON_ABS) \
		$(NICE) tools/build_variant.sh $(HARDEN_DIR)/fuzz
	touch $@

fuzz: $(VENV)/.harden-stamp $(HARDEN_DIR)/fuzz/.built
	@status=0; for t in $(FUZZ_TARGETS); do \
		PYTHONPATH=$(HARDEN_ABS)/fuzz/src PYTHON=$(PYTHON_ABS) $(NICE) fuzz/run.sh $$t $(FUZZ_SECONDS) \
			$(HARDEN_ABS)/fuzz/out $(FUZZ_ARGS) || status=1; \
	done; exit $$status

fuzz-corpus: $(VENV)/.stamp build
	$(PYTHON) fuzz/make_corpus.py

$(HARDEN_DIR)/asan/.built: $(VENV)/.stamp $(EXT_SRC)
	CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="-fsanitize=address,undefined" PYTHON=$(PYTHON_ABS) \
		$(NICE) tools/build_variant.sh $(HARDEN_DIR)/asan
	touch $@

# python is not instrumented: libasan is preloaded (with libstdc++, or ASan's
# __cxa_throw interceptor finds no real one when greenlet throws: gevent and
# eventlet tests die with "CHECK failed: real___cxa_throw"); curl, which hangs
# with libasan preloaded, is run through a wrapper on PATH that drops it.
# LeakSanitizer checks after every test module (tools/lsan_per_module.py) pin
# each leak to a module; leaks are logged, not fatal (LSAN exitcode=0), and
# judged by tools/sanitizer_report.py.  ASAN_UNWIND=fast_unwind_on_malloc=0
# gives full allocation stacks through libssl (which has no frame pointers),
# at several times the run time: use it with ASAN_PYTEST_ARGS=tests/<module>.
asan: $(HARDEN_DIR)/asan/.built
	rm -rf $(HARDEN_DIR)/asan/logs $(HARDEN_DIR)/asan/bin && mkdir -p $(HARDEN_DIR)/asan/logs $(HARDEN_DIR)/asan/bin
	if command -v curl >/dev/null; then printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$$@"\n' \
		"$$(command -v curl)" > $(HARDEN_DIR)/asan/bin/curl && chmod +x $(HARDEN_DIR)/asan/bin/curl; fi
	-cd $(HARDEN_DIR)/asan/src && PATH=$(HARDEN_ABS)/asan/bin:$$PATH PYTHONPATH=$(HARDEN_ABS)/asan/src/tools \
		LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" PYTHONMALLOC=malloc \
		ASAN_OPTIONS=detect_leaks=1:$(ASAN_UNWIND):log_path=$(HARDEN_ABS)/asan/logs/asan \
		LSAN_OPTIONS=exitcode=0:suppressions=$(abspath tools/lsan-python.supp):print_suppressions=0 \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$(HARDEN_ABS)/asan/logs/ubsan \
		$(NICE) $(PYTHON_ABS) -m pytest -q -p no:cacheprovider -p lsan_per_module -rfE \
		$(or $(ASAN_PYTEST_ARGS),tests)
	$(PYTHON) tools/sanitizer_report.py asan $(HARDEN_DIR)/asan/logs

$(HARDEN_DIR)/valgrind/.built: $(VENV)/.stamp $(EXT_SRC)
	CFLAGS="-g -O1 -fno-omit-frame-pointer" PYTHON=$(PYTHON_ABS) $(NICE) tools/build_variant.sh $(HARDEN_DIR)/valgrind
	touch $@

valgrind: $(HARDEN_DIR)/valgrind/.built
	@command -v valgrind >/dev/null || { echo "make valgrind needs valgrind (apt-get install -y valgrind)"; exit 1; }
	rm -rf $(HARDEN_DIR)/valgrind/logs && mkdir -p $(HARDEN_DIR)/valgrind/logs
	-cd $(HARDEN_DIR)/valgrind/src && PYTHONMALLOC=malloc $(NICE) valgrind --tool=memcheck \
		--suppressions=$(abspath tools/valgrind-python.supp) --leak-check=full \
		--show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=40 \
		--log-file=$(HARDEN_ABS)/valgrind/logs/vg.%p.log \
		$(PYTHON_ABS) -m pytest -q -p no:cacheprovider -p no:timeout $(VALGRIND_PYTEST_ARGS) $(VALGRIND_TESTS)
	$(PYTHON) tools/sanitizer_report.py valgrind $(HARDEN_DIR)/valgrind/logs

soak: build $(VENV)/.harden-stamp
	$(NICE) $(PYTHON) tools/soak.py $(SOAK_ARGS)
