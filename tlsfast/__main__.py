"""Command line: ``python -m tlsfast {serve,info}`` (console script ``tlsfast``).

``serve``  a demo HTTPS / TLS echo server on the non-blocking fast path
           (see ``tlsfast._server``);
``info``   which implementation is live, the OpenSSL it uses, its features.

The benchmark suite is a repository tool beside the package:
``python -m bench`` from a checkout (``make bench``).
"""

import argparse
import platform
import sys

import tlsfast


def _cmd_serve(args):
    from tlsfast import _server
    return _server.run(args)


def _cmd_info(args):
    lines = [
        ("implementation", f"{tlsfast.__impl__} ({tlsfast.SSLContext.__module__})"),
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
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0: {text}")
        return value
    return parse


def build_parser():
    parser = argparse.ArgumentParser(
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
    serve.add_argument("--max-requests", type=_positive(int), metavar="N",
                       help="stop after serving N HTTP requests")
    serve.add_argument("--duration", type=_positive(float), metavar="SECONDS",
                       help="stop after this many seconds")
    serve.add_argument("-v", "--verbose", action="store_true",
                       help="log connections and errors to stderr")
    serve.set_defaults(func=_cmd_serve)

    info = commands.add_parser("info", help="show implementation, OpenSSL and features")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv=None):
    """Console-script entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve" and args.key and not args.cert:
        parser.error("--key needs --cert")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
