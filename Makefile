# tlsfast developer commands.  Everything installs itself into ./.venv.
#   make serve   -- the main job: demo HTTPS/echo server with a test certificate
#   make test    -- the test suite, both implementations (fails if the C one did not build)
#   make info    -- which implementation, which OpenSSL
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
EXT_SRC := tlsfast/_tls_c.pyx $(wildcard tlsfast/*.pxi) tlsfast/_openssl.pxd setup.py
EXT := $(shell $(PY) -c "import sysconfig; print('tlsfast/_tls_c' + sysconfig.get_config_var('EXT_SUFFIX'))")
PYTEST_ARGS ?=

.PHONY: venv build serve test info clean check-c test-stdlib

$(VENV)/.stamp: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "setuptools>=68" wheel "Cython>=3.0"
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
	$(PYTHON) -m tlsfast bench $(BENCH_ARGS)

# CPython's own test_ssl (installed with Python) with tlsfast in place of ssl
test-stdlib: build
	$(PYTHON) tests/stdlib/run_test_ssl.py --impl python -q
	$(PYTHON) tests/stdlib/run_test_ssl.py --impl c -q
