"""tlsfast.gevent: cooperative tlsfast sockets in gevent and its servers.

Every test runs per implementation (``impl``: c / python).  gevent never
runs in this process: the in-process scenarios run once per implementation
in a subprocess (``tests/green/scenarios.py suite gevent IMPL``, results
cached per module), and ``gevent.pywsgi.WSGIServer(ssl_context=<tlsfast
green context>)`` runs as a subprocess driven from here by ``requests``,
``urllib3``, ``curl`` and raw sockets.  Needs gevent installed (the
``gevent`` extra); a missing gevent fails these tests, it never skips them.
"""

from __future__ import annotations

import socket

import pytest

import green_support as gs

LIB = "gevent"
SUITE = gs.SuiteResults(LIB)
SERVERS = gs.Servers(LIB)


@pytest.fixture(scope="module", autouse=True)
def _cleanup_servers():
    yield
    SERVERS.close()


def scenario(impl, certs, name):
    return SUITE.get(impl.name, certs, name)


# --------------------------------------------------------------------------
# in-process scenarios (one gevent subprocess per implementation)
# --------------------------------------------------------------------------

def test_200_clients_1mib_each_hash_checked(impl, certs):
    """StreamServer(ssl_context=tlsfast.gevent.SSLContext) against 200
    concurrent green tlsfast clients, 1 MiB up and 1 MiB down each."""
    data = scenario(impl, certs, "many_clients")
    assert data["clients"] == 200
    assert data["server_tls_modules"] == [impl.module.__name__]


def test_handshake_timeout_silent_server(impl, certs):
    data = scenario(impl, certs, "timeout_handshake")
    assert data["exc"] == socket.timeout.__name__  # TimeoutError in 3.10+
    assert data["msg"] == "The handshake operation timed out"
    assert 0.25 <= data["elapsed"] < 3.0, data


def test_recv_timeout_then_late_data(impl, certs):
    data = scenario(impl, certs, "timeout_recv")
    assert data["exc"] == socket.timeout.__name__ and data["msg"] == "The read operation timed out"
    assert 0.25 <= data["elapsed"] < 3.0, data
    assert data["late"] == "late"


def test_sendall_timeout_peer_not_reading(impl, certs):
    data = scenario(impl, certs, "timeout_send")
    assert data["exc"] == socket.timeout.__name__ and data["msg"] == "The write operation timed out"
    assert 0.25 <= data["elapsed"] < 3.0, data


def test_server_side_handshake_timeout(impl, certs):
    data = scenario(impl, certs, "timeout_server_side")
    assert data["exc"] == socket.timeout.__name__
    assert 0.25 <= data["elapsed"] < 3.0, data


def test_two_readers_concurrent_object_use_error(impl, certs):
    data = scenario(impl, certs, "concurrent_read")
    assert data["exc"] == "ConcurrentObjectUseError", data
    assert data["first"] == "x"  # the first reader still gets its data


def test_close_wakes_blocked_reader(impl, certs):
    data = scenario(impl, certs, "close_wakes_reader")
    assert data["outcome"][:3] == ["error", "cancel_wait_ex", 9], data  # EBADF, like gevent
    assert data["elapsed"] < 1.0
    assert data["closed_fileno"] == -1


def test_unwrap_both_sides_then_cleartext(impl, certs):
    data = scenario(impl, certs, "unwrap")
    assert data["reply"] == "UNWRAP"
    assert data["client_version_before"] in ("TLSv1.2", "TLSv1.3")
    assert data["client_version_after"] is None and data["server_version_after"] is None
    assert data["server_same_object"] is True
    assert data["client_got"] == "clear from server"
    assert data["server_got"] == "clear from client"
    assert data["second_unwrap"] == "ValueError"


def test_close_makefile_and_context_manager(impl, certs):
    data = scenario(impl, certs, "close_behaviour")
    assert data["reply_after_close_with_file"] == "echo:hello\n"
    assert data["server"] == [["server_line", "hello\n"], ["server_eof", ""]]
    assert data["fileno_after"] == -1
    assert data["send_after_close"] in ("OSError", "ValueError")
    assert data["ctx_reply"] == "echo:ctx\n" and data["ctx_closed_fileno"] == -1


def test_peer_close_with_and_without_close_notify(impl, certs):
    data = scenario(impl, certs, "peer_close")
    assert data == {"notify": ["bye", ""], "ragged": ["bye", ""]}


def test_read_into_small_buffer_as_the_stdlib(impl, certs):
    data = scenario(impl, certs, "read_into_small_buffer")
    assert data == {"reads": ["012", "345", "678", "9AB"]}


def test_timeout_zero_is_nonblocking(impl, certs):
    data = scenario(impl, certs, "nonblocking")
    assert data == {"exc": "SSLWantReadError", "exc2": "SSLWantReadError"}


def test_wrap_unconnected_then_connect(impl, certs):
    data = scenario(impl, certs, "connect_later")
    assert data["before"] == [None, None]
    assert data["version"] in ("TLSv1.2", "TLSv1.3")
    assert data["alpn"] == "http/1.1"
    assert data["peer_san"] == "localhost"
    assert data["tls_module"] == impl.module.__name__
    assert data["data"] == data["data2"] == "hi"
    assert data["connect_ex"] == 0


def test_listening_socket_accept_handshakes(impl, certs):
    data = scenario(impl, certs, "listening_accept")
    assert data["accepted_class"] == "SSLSocket"
    assert data["version_at_accept"] in ("TLSv1.2", "TLSv1.3")  # handshaken in accept()
    assert data["reply"] == "dcba"


# --------------------------------------------------------------------------
# gevent.pywsgi.WSGIServer serving HTTPS through tlsfast
# --------------------------------------------------------------------------

def test_pywsgi_requests_keepalive(impl, certs):
    port = SERVERS.port(impl.name, certs)
    gs.check_requests(port, certs.ca_pem, impl.module.__name__)


def test_pywsgi_urllib3_verifies(impl, certs):
    port = SERVERS.port(impl.name, certs)
    gs.check_urllib3(port, certs.ca_pem, certs.other_ca_pem)


@pytest.mark.interop
def test_pywsgi_curl(impl, certs, tmp_path):
    port = SERVERS.port(impl.name, certs)
    gs.check_curl(port, certs.ca_pem, tmp_path)


def test_pywsgi_survives_vanishing_clients(impl, certs):
    port = SERVERS.port(impl.name, certs)
    try:
        result = gs.check_vanishing_clients(port, certs.ca_pem)
    except Exception as exc:  # noqa: BLE001 - add the server's log
        pytest.fail(f"{exc!r}\nserver output:\n{SERVERS.output(impl.name)[-6000:]}")
    assert result["last_request_seconds"] < 5.0, result
    stats = gs.stats(port, certs.ca_pem)
    assert stats["tls_modules"] == [impl.module.__name__]


# --------------------------------------------------------------------------
# a monkey-patched process
# --------------------------------------------------------------------------

def test_monkey_patched_process(impl, certs, request):
    """After monkey.patch_all(): the WSGI server on tlsfast, fetched by
    requests (now on the library's green ssl) from 20 greenlets."""
    data = gs.run_monkey(LIB, impl.name, certs)
    assert data["ok_clients"] == 20 and data["requests"] == 60, data
    assert data["ssl_context_class"] == "gevent.ssl.SSLContext"


# --------------------------------------------------------------------------
# imports
# --------------------------------------------------------------------------

def test_import_error_names_the_extra():
    gs.check_import_without_library(LIB)


def test_import_tlsfast_does_not_import_gevent():
    gs.check_tlsfast_does_not_import(LIB)
