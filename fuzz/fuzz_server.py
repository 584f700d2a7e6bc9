"""atheris target: tlsfast as a TLS *server* fed arbitrary bytes.

The input plays the client: raw handshake flights (mutated from the recorded
seeds in fuzz/corpus/server/), or, after a real handshake with an in-process
client, an operation script mixing raw bytes with valid and corrupted
records.  Format: see fuzz/_records.py.  Run: `make fuzz` or
    LD_PRELOAD=$(python -c 'import atheris;print(atheris.path())')/asan_with_fuzzer.so \\
    PYTHONPATH=<instrumented build> python fuzz/fuzz_server.py fuzz/corpus/server
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _records  # noqa: E402

if __name__ == "__main__":
    _records.main("server", sys.argv)
