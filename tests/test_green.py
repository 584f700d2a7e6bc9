"""tlsfast.gevent and tlsfast.eventlet: cooperative tlsfast sockets in the
green libraries and their servers.

Every test runs per library (``lib``: gevent / eventlet) and implementation
(``impl``: c / python).  No green library ever runs in this process: the
in-process scenarios run once per (library, implementation) in a subprocess
(``tests/green/scenarios.py suite LIB IMPL``, results cached per module),
and the library's WSGI server (``gevent.pywsgi.WSGIServer(ssl_context=<green
context>)`` / ``eventlet.wsgi.server`` on a listening
``tlsfast.eventlet.GreenSSLSocket``) runs as a subprocess driven from here
by ``requests``, ``urllib3``, ``curl`` and raw sockets.  Needs gevent and
eventlet installed (the test extras); a missing library fails these tests,
it never skips them.
"""

from __future__ import annotations

import socket

import pytest

import green_support as gs

LIBS = ["gevent", "eventlet"]
SUITES = {lib: gs.SuiteResults(lib) for lib in LIBS}
SERVERS = {lib: gs.Servers(lib) for lib in LIBS}

#: what each library's sockets do where the two differ
CONCURRENT_ERROR = {"gevent": "ConcurrentObjectUseError", "eventlet": "RuntimeError"}
#: a reader woken by close() from another greenlet: gevent's cancel_wait_ex
#: (EBADF, as gevent's own sockets); eventlet's IOClosed, read as end of stream
CLOSE_WAKES_READER = {"gevent": ["error", "cancel_wait_ex", 9], "eventlet": ["data", ""]}
#: the class accept() returns and the TLS version it has at that point:
#: gevent handshakes in accept() (as the stdlib), eventlet at the first I/O
ACCEPTED = {"gevent": ("SSLSocket", ("TLSv1.2", "TLSv1.3")),
            "eventlet": ("GreenSSLSocket", (None,))}
#: ssl.SSLContext after the library's monkey-patching
PATCHED_SSL_CONTEXT = {"gevent": "gevent.ssl.SSLContext",
                       "eventlet": "eventlet.green.ssl.GreenSSLContext"}


@pytest.fixture(params=LIBS)
def lib(request) -> str:
    return request.param


@pytest.fixture(scope="module", autouse=True)
def _cleanup_servers():
    yield
    for servers in SERVERS.values():
        servers.close()


def scenario(lib, impl, certs, name):
    return SUITES[lib].get(impl.name, certs, name)


# --------------------------------------------------------------------------
# in-process scenarios (one subprocess per library and implementation)
# --------------------------------------------------------------------------

def test_200_clients_1mib_each_hash_checked(lib, impl, certs):
    """A tlsfast green server (gevent: StreamServer(ssl_context=...);
    eventlet: a listening GreenSSLSocket + GreenPool) against 200 concurrent
    green tlsfast clients, 1 MiB up and 1 MiB down each."""
    data = scenario(lib, impl, certs, "many_clients")
    assert data["clients"] == 200
    assert data["server_tls_modules"] == [impl.module.__name__]


def test_handshake_timeout_silent_server(lib, impl, certs):
    data = scenario(lib, impl, certs, "timeout_handshake")
    assert data["exc"] == socket.timeout.__name__  # TimeoutError in 3.10+
    assert data["msg"] == "The handshake operation timed out"
    assert 0.25 <= data["elapsed"] < 3.0, data


def test_recv_timeout_then_late_data(lib, impl, certs):
    data = scenario(lib, impl, certs, "timeout_recv")
    assert data["exc"] == socket.timeout.__name__ and data["msg"] == "The read operation timed out"
    assert 0.25 <= data["elapsed"] < 3.0, data
    assert data["late"] == "late"


def test_sendall_timeout_peer_not_reading(lib, impl, certs):
    data = scenario(lib, impl, certs, "timeout_send")
    assert data["exc"] == socket.timeout.__name__ and data["msg"] == "The write operation timed out"
    assert 0.25 <= data["elapsed"] < 3.0, data


def test_server_side_handshake_timeout(lib, impl, certs):
    data = scenario(lib, impl, certs, "timeout_server_side")
    assert data["exc"] == socket.timeout.__name__
    assert 0.25 <= data["elapsed"] < 3.0, data


def test_two_readers_get_the_librarys_concurrent_use_error(lib, impl, certs):
    data = scenario(lib, impl, certs, "concurrent_read")
    assert data["exc"] == CONCURRENT_ERROR[lib], data
    if lib == "eventlet":
        assert data["msg"].startswith("Second simultaneous read"), data
    assert data["first"] == "x"  # the first reader still gets its data


def test_close_wakes_blocked_reader(lib, impl, certs):
    data = scenario(lib, impl, certs, "close_wakes_reader")
    assert data["outcome"][:3] == CLOSE_WAKES_READER[lib], data
    assert data["elapsed"] < 1.0
    assert data["closed_fileno"] == -1


def test_unwrap_both_sides_then_cleartext(lib, impl, certs):
    data = scenario(lib, impl, certs, "unwrap")
    assert data["reply"] == "UNWRAP"
    assert data["client_version_before"] in ("TLSv1.2", "TLSv1.3")
    assert data["client_version_after"] is None and data["server_version_after"] is None
    assert data["server_same_object"] is True
    assert data["client_got"] == "clear from server"
    assert data["server_got"] == "clear from client"
    assert data["second_unwrap"] == "ValueError"


def test_close_makefile_and_context_manager(lib, impl, certs):
    data = scenario(lib, impl, certs, "close_behaviour")
    assert data["reply_after_close_with_file"] == "echo:hello\n"
    assert data["server"] == [["server_line", "hello\n"], ["server_eof", ""]]
    assert data["fileno_after"] == -1
    assert data["send_after_close"] in ("OSError", "ValueError")
    assert data["ctx_reply"] == "echo:ctx\n" and data["ctx_closed_fileno"] == -1


def test_peer_close_with_and_without_close_notify(lib, impl, certs):
    data = scenario(lib, impl, certs, "peer_close")
    assert data == {"notify": ["bye", ""], "ragged": ["bye", ""]}


def test_read_into_small_buffer_as_the_stdlib(lib, impl, certs):
    data = scenario(lib, impl, certs, "read_into_small_buffer")
    assert data == {"reads": ["012", "345", "678", "9AB"]}


def test_timeout_zero_is_nonblocking(lib, impl, certs):
    data = scenario(lib, impl, certs, "nonblocking")
    assert data == {"exc": "SSLWantReadError", "exc2": "SSLWantReadError"}


def test_wrap_unconnected_then_connect(lib, impl, certs):
    data = scenario(lib, impl, certs, "connect_later")
    assert data["before"] == [None, None]
    assert data["version"] in ("TLSv1.2", "TLSv1.3")
    assert data["alpn"] == "http/1.1"
    assert data["peer_san"] == "localhost"
    assert data["tls_module"] == impl.module.__name__
    assert data["data"] == data["data2"] == "hi"
    assert data["connect_ex"] == 0


def test_listening_socket_accept(lib, impl, certs):
    """accept() on a listening green TLS socket: gevent handshakes there (as
    the stdlib), eventlet leaves the handshake to the first read."""
    data = scenario(lib, impl, certs, "listening_accept")
    accepted_class, versions = ACCEPTED[lib]
    assert data["accepted_class"] == accepted_class
    assert data["version_at_accept"] in versions
    assert data["reply"] == "dcba"


@pytest.mark.parametrize("lib", ["eventlet"])
def test_wrap_ssl_helper(lib, impl, certs):
    """eventlet's wrap_ssl() signature on both ends (certificate /
    private_key server, ca_certs + server_hostname client, impl chosen)."""
    data = scenario(lib, impl, certs, "wrap_ssl")
    assert data["reply"] == "ABC"
    assert data["tls_module"] == impl.module.__name__
    assert data["verified"] is True
    # secure by default: a client without ca_certs uses the system CAs
    assert data["unverified_rejected"] == "SSLCertVerificationError"
    assert data["server_saw"] in ("TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE"), data


# --------------------------------------------------------------------------
# the library's WSGI server serving HTTPS through tlsfast
# --------------------------------------------------------------------------

def test_wsgi_requests_keepalive(lib, impl, certs):
    port = SERVERS[lib].port(impl.name, certs)
    gs.check_requests(port, certs.ca_pem, impl.module.__name__)


def test_wsgi_urllib3_verifies(lib, impl, certs):
    port = SERVERS[lib].port(impl.name, certs)
    gs.check_urllib3(port, certs.ca_pem, certs.other_ca_pem)


@pytest.mark.interop
def test_wsgi_curl(lib, impl, certs, tmp_path):
    port = SERVERS[lib].port(impl.name, certs)
    gs.check_curl(port, certs.ca_pem, tmp_path)


def test_wsgi_survives_vanishing_clients(lib, impl, certs):
    port = SERVERS[lib].port(impl.name, certs)
    try:
        result = gs.check_vanishing_clients(port, certs.ca_pem)
    except Exception as exc:  # noqa: BLE001 - add the server's log
        pytest.fail(f"{exc!r}\nserver output:\n{SERVERS[lib].output(impl.name)[-6000:]}")
    assert result["last_request_seconds"] < 5.0, result
    stats = gs.stats(port, certs.ca_pem)
    assert stats["tls_modules"] == [impl.module.__name__]


# --------------------------------------------------------------------------
# a monkey-patched process
# --------------------------------------------------------------------------

def test_monkey_patched_process(lib, impl, certs):
    """After the library's monkey-patching: its WSGI server on tlsfast,
    fetched by requests (now on the library's green ssl) from 20 greenlets."""
    data = gs.run_monkey(lib, impl.name, certs)
    assert data["ok_clients"] == 20 and data["requests"] == 60, data
    assert data["ssl_context_class"] == PATCHED_SSL_CONTEXT[lib]


# --------------------------------------------------------------------------
# imports
# --------------------------------------------------------------------------

def test_import_error_names_the_extra(lib):
    gs.check_import_without_library(lib)


def test_import_tlsfast_does_not_import_the_library(lib):
    gs.check_tlsfast_does_not_import(lib)
