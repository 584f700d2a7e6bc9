"""gunicorn configuration for tests/test_green.py: the ``ssl_context``
server hook hands gunicorn a tlsfast context (``TLSFAST_IMPL`` picks the
implementation) or, with ``GREEN_TEST_CONTEXT=stdlib``, gunicorn's own
default one (the reference); ``GREEN_TEST_ALPN`` (comma-separated) sets
ALPN protocols on it."""

import os


def ssl_context(conf, default_ssl_context_factory):
    if os.environ.get("GREEN_TEST_CONTEXT") == "stdlib":
        ctx = default_ssl_context_factory()
    else:
        import tlsfast
        ctx = tlsfast.create_default_context(tlsfast.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(conf.certfile, conf.keyfile)
    alpn = os.environ.get("GREEN_TEST_ALPN")
    if alpn:
        ctx.set_alpn_protocols(alpn.split(","))
    return ctx
