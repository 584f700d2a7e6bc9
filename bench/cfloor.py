"""Building and driving the C floor (``c_floor.c``).

``build()`` compiles ``bench/c_floor`` with the system ``cc`` and
``pkg-config --cflags --libs openssl`` when the binary is missing or older
than its source.  ``CFloor`` keeps one ``c_floor serve`` process and sends it
one command a line; each answer is one JSON line.  The peer processes the
Python workloads talk to are the same binary (``peer_cmd``).
"""

import json
import os
import shlex
import shutil
import subprocess

from .common import BenchError

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "c_floor.c")
BINARY = os.path.join(HERE, "c_floor")


def build(force=False):
    """Compile the C floor if needed; returns the binary's path and the
    compile command (recorded in the report)."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise BenchError(f"no C compiler ({cc}) for the C floor")
    if shutil.which("pkg-config") is None:
        raise BenchError("pkg-config is missing (apt-get install pkg-config)")
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "openssl"], check=True,
                               capture_output=True, text=True).stdout.split()
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"pkg-config knows no openssl (libssl-dev missing?): {exc.stderr}") from exc
    cmd = [cc, "-O2", "-o", BINARY, SOURCE, *flags]
    stale = (not os.path.exists(BINARY)
             or os.path.getmtime(BINARY) < os.path.getmtime(SOURCE))
    if force or stale:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"compiling the C floor failed:\n{shlex.join(cmd)}\n{proc.stderr}")
    return BINARY, shlex.join(cmd)


def peer_cmd(certs, mode, port, *args):
    return [BINARY, mode, certs.dir, str(port), *map(str, args)]


class CFloor:
    """A persistent ``c_floor serve`` process."""

    def __init__(self, certs):
        self.certs = certs
        self.proc = subprocess.Popen([BINARY, "serve", certs.dir], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, command, **params):
        line = " ".join([command] + [f"{k}={v}" for k, v in params.items()])
        if self.proc.poll() is not None:
            self.__init__(self.certs)     # a failed command ended it: start again
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline()
        if not out:
            self.proc.wait()
            raise BenchError(f"C floor died on {line!r} (exit {self.proc.returncode})")
        result = json.loads(out)
        if not result.get("ok"):
            raise BenchError(f"C floor {command}: {result.get('error')}")
        return result

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
