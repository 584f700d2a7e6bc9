"""The WSGI application gunicorn serves in tests/test_green.py: answers with
the class of the TLS socket the worker handed it (``gunicorn.socket``)."""


def app(environ, start_response):
    sock = environ.get("gunicorn.socket")
    body = f"{type(sock).__module__}.{type(sock).__name__}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
