"""Command line: ``python -m tlsfast {serve,info}`` (console script ``tlsfast``).

``serve``  a demo HTTPS / TLS echo server on the non-blocking fast path
           (see ``tlsfast._server``; ``--workers N``: N processes on one
           port);
``info``   which implementation is live and why, the OpenSSL it uses, its
           features.

Errors are one line on stderr, ``tlsfast COMMAND: error: ...``, naming the
file, port or option at fault and what to do; the exit status is 2 for a
usage error (argparse's convention) and 1 for a failure at run time.
``-v`` / ``--verbose`` adds the traceback.

The benchmark suite is a repository tool beside the package:
``python -m bench`` from a checkout (``make bench``).
"""

import argparse
import math
import os
import platform
import sys
import traceback

import tlsfast
from tlsfast import _server
from tlsfast._impl_choice import explain as _explain_impl


def _cmd_serve(args):
    return _server.run(args)


def _cmd_info(args):
    lines = [
        ("implementation", f"{tlsfast.__impl__} ({tlsfast.SSLContext.__module__})"),
        ("why", _explain_impl(tlsfast)),
        ("package", os.path.dirname(os.path.abspath(tlsfast.__file__))),
        ("tlsfast", tlsfast.__version__),
        ("OpenSSL", tlsfast.OPENSSL_VERSION),
        ("OpenSSL version info", ".".join(map(str, tlsfast.OPENSSL_VERSION_INFO))),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}, "
                   f"{sys.platform})"),
    ]
    for name, value in lines:
        print(f"{name}: {value}")
    print("features:")
    for name in sorted(n for n in dir(tlsfast) if n.startswith("HAS_")):
        print(f"  {name}: {getattr(tlsfast, name)}")
    return 0


def _port(text):
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected an integer 0-65535")
    return port


def _positive(kind, what):
    """An argparse type: ``kind`` (int or float) above 0 and finite."""
    expected = "an integer" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: expected {expected} > 0")
        return value
    return parse


_MAX_WORKERS = 1024


def _cpu_count():
    """CPUs this process may run on (its affinity mask, as a container or
    ``taskset`` sets it), else ``os.cpu_count()``; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _workers(text):
    """``--workers``: an integer 1 to _MAX_WORKERS, or 0 / "auto" for one per CPU."""
    if text.strip().lower() == "auto":
        return _cpu_count()
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value == 0:
        return _cpu_count()
    if not 1 <= value <= _MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            f"invalid worker count {text!r}: expected an integer 1-{_MAX_WORKERS}, "
            "or 0 / 'auto' for one per CPU")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line (with a pointer to --help), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    parser = _Parser(
        prog="tlsfast", description="tlsfast: a fast TLS socket layer for "
        "non-blocking Python event loops")
    parser.add_argument("--version", action="version",
                        version=f"tlsfast {tlsfast.__version__} ({tlsfast.__impl__})")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="run a demo HTTPS / TLS echo server",
        description="Serve HTTP/1.1 (GET, HEAD) over TLS, and echo back any "
        "connection that does not start with an HTTP request line.  Without "
        "--cert a throw-away CA and certificate for localhost are created in "
        "--cert-dir (needs trustme).")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument("--port", type=_port, default=8443,
                       help="TCP port (%(default)s; 0 picks a free one)")
    serve.add_argument("--cert", metavar="FILE", help="PEM certificate chain")
    serve.add_argument("--key", metavar="FILE", help="PEM private key (default: in --cert)")
    serve.add_argument("--cert-dir", metavar="DIR", default=".tlsfast-demo",
                       help="where the demo CA and certificate go (%(default)s)")
    serve.add_argument("--max-requests", type=_positive(int, "count"), metavar="N",
                       help="stop after serving N HTTP requests")
    serve.add_argument("--duration", type=_positive(float, "duration"), metavar="SECONDS",
                       help="stop after this many seconds")
    serve.add_argument("--workers", type=_workers, default=1, metavar="N",
                       help="serve from N processes sharing the port (SO_REUSEPORT, "
                       "Linux) and the session ticket keys; 0 or 'auto': one per CPU "
                       "(default 1: this process)")
    serve.add_argument("-v", "--verbose", action="store_true",
                       help="log connections and errors to stderr; a failure "
                       "shows its traceback")
    serve.set_defaults(func=_cmd_serve, parser=serve)

    info = commands.add_parser(
        "info", help="show implementation, OpenSSL and features",
        description="Which implementation is live and why, where the package "
        "was imported from, the OpenSSL it runs with and its HAS_* features.")
    info.add_argument("-v", "--verbose", action="store_true",
                      help="a failure shows its traceback")
    info.set_defaults(func=_cmd_info, parser=info)
    return parser


def main(argv=None):
    """Console-script entry point; returns the exit status: 0, 1 for a
    failure at run time (one line on stderr, the traceback too with
    ``--verbose``), 2 for a usage error (argparse exits itself)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.command == "serve" and args.key and not args.cert:
        args.parser.error("--key needs --cert")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130                       # the shell's status for SIGINT
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        if isinstance(exc, _server.CLIError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
            if not args.verbose:
                message += " (-v shows the traceback)"
        message = " ".join(message.splitlines())
        print(f"{args.parser.prog}: error: {message}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
