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

import errno
import importlib.util
import socket
import ssl

import pytest

import green_support as gs
from conftest import IMPL_MODULES

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
# imports
# --------------------------------------------------------------------------

def test_import_error_names_the_extra(lib):
    gs.check_import_without_library(lib)


def test_import_tlsfast_does_not_import_the_library(lib):
    gs.check_tlsfast_does_not_import(lib)


# --------------------------------------------------------------------------
# unwrap() timeouts and server-side wraps of unconnected sockets, as the stdlib
# --------------------------------------------------------------------------

def _stdlib_unwrap_timeouts(net, client_ctx, server_ctx) -> dict:
    """The stdlib's unwrap() messages in the two cases of the scenario."""
    out = {}
    for case in ("read", "write"):
        client, _server = net.tls_pair(client_ctx(ssl), server_ctx(ssl))
        client.settimeout(0.3)
        if case == "write":
            with pytest.raises(socket.timeout):
                client.sendall(b"x" * (32 << 20))
        with pytest.raises(socket.timeout) as info:
            client.unwrap()
        out[case] = str(info.value)
    return out


def test_unwrap_timeout_names_the_operation(lib, impl, certs, net, client_ctx, server_ctx):
    """Waiting for the peer's close_notify times out as a read, waiting to
    send ours as a write: the stdlib's messages for the same two cases."""
    data = scenario(lib, impl, certs, "unwrap_timeout")
    stdlib = _stdlib_unwrap_timeouts(net, client_ctx, server_ctx)
    assert stdlib == {"read": "The read operation timed out",
                      "write": "The write operation timed out"}
    for case in ("read", "write"):
        assert data[case]["exc"] == socket.timeout.__name__
        assert data[case]["msg"] == stdlib[case], data
        assert 0.25 <= data[case]["elapsed"] < 3.0, data


def test_server_side_wrap_of_unconnected_socket_as_the_stdlib(lib, impl, certs):
    """wrap_socket(unconnected, server_side=True) is no error (as the
    stdlib's ssl and the library's own green ssl): a server-side socket
    without TLS whose do_handshake / getpeercert raise ENOTCONN."""
    data = scenario(lib, impl, certs, "server_wrap_unconnected")
    assert data["stdlib"]["wrap"] == "ok", data
    assert data["stdlib"]["do_handshake"][:2] == ["OSError", errno.ENOTCONN], data
    assert data["tlsfast"] == data["stdlib"], data
    assert data["library"]["wrap"] == "ok", data


# --------------------------------------------------------------------------
# monkey-patched programs with PLAIN tlsfast contexts
# --------------------------------------------------------------------------

ORDERS = ["before", "after"]   # tlsfast imported before / after the patching
GREEN_MODULE = {"gevent": "tlsfast.gevent", "eventlet": "tlsfast.eventlet"}


@pytest.fixture(scope="module")
def slow_server(certs):
    server = gs.SlowHTTPSServer(certs)
    yield server
    server.close()


@pytest.mark.parametrize("order", ORDERS)
def test_patched_program_https_keeps_the_hub_running(lib, impl, order, certs, slow_server):
    """http.client over a plain tlsfast context (create_default_context()
    and SSLContext(...)) in a patched program: while the server takes
    SLOW_DELAY to answer, a ticker greenlet keeps ticking -- as with the
    stdlib's (patched) ssl in the same program -- and the socket is the
    library's cooperative tlsfast socket."""
    data = gs.run_patched("ticker", lib, impl.name, order, certs.ca_pem, slow_server.port)
    assert data["impl"] == impl.name
    reference = data["stdlib"]
    expected = gs.SLOW_DELAY / data["tick"]
    assert reference["body"] == "slow ok" and reference["ticks"] >= 0.4 * expected, data
    for kind in ("create_default_context", "SSLContext"):
        run = data[kind]
        assert run["body"] == "slow ok", data
        assert run["elapsed"] >= gs.SLOW_DELAY, data
        # the hub ran: ticks near the stdlib's and near one per TICK
        assert run["ticks"] >= 0.5 * reference["ticks"], (kind, data)
        assert run["ticks"] >= 0.4 * expected, (kind, data)
        assert run["socket"].rpartition(".")[0] == GREEN_MODULE[lib], data


@pytest.mark.parametrize("order", ORDERS)
def test_patched_wsgi_server_with_plain_context(lib, impl, order, certs):
    """gevent.pywsgi (ssl_context=<plain tlsfast context>) / eventlet.wsgi
    (a listening socket wrapped by a plain tlsfast context) in a patched
    program, fetched by requests (on the library's green ssl) from 20
    greenlets of the same hub: a blocking wrap would deadlock them."""
    data = gs.run_patched("wsgi", lib, impl.name, order, certs.ca_pem,
                          certs.server.chain, certs.server.key)
    assert data["impl"] == impl.name
    assert data["ok_clients"] == 20, data
    assert [m.rpartition(".")[0] for m in data["server_sockets"]] == [GREEN_MODULE[lib]], data
    assert data["ssl_context_class"] == PATCHED_SSL_CONTEXT[lib]


# --------------------------------------------------------------------------
# gunicorn, tlsfast from its ssl_context server hook
# --------------------------------------------------------------------------

def test_gunicorn_gevent_worker_serves_around_stalled_clients(impl, certs):
    """gunicorn -k gevent: its worker patches the process and hands the
    hook's tlsfast context to gevent's server; clients that stall
    mid-handshake or mid-request do not stop ten concurrent others."""
    with gs.Gunicorn("gevent", impl.name, certs) as server:
        try:
            result = gs.check_serves_around_stalled_clients(server.port, certs.ca_pem)
        except Exception as exc:  # noqa: BLE001 - add the server's log
            pytest.fail(f"{exc!r}\ngunicorn output:\n{server.proc.output[-6000:]}")
    assert result["statuses"] == [200], result
    assert result["bodies"] == ["tlsfast.gevent.SSLSocket"], result
    assert result["slowest"] < 5.0, result
    assert result["stalled_open"] == [True, True], result


#: gunicorn speaks HTTP/2 (gunicorn >= 24 with the h2 package): then clients
#: that negotiate h2 are served over it
GUNICORN_SPEAKS_H2 = (importlib.util.find_spec("gunicorn.http2") is not None
                      and importlib.util.find_spec("h2") is not None)
_GTHREAD_REFERENCE: dict = {}


@pytest.mark.interop
@pytest.mark.parametrize("impl_name", ["c", "python"])
def test_gunicorn_gthread_alpn_h2_as_the_stdlib(impl_name, certs):
    """gunicorn -k gthread, the hook setting ALPN ["h2", "http/1.1"]: curl
    negotiates h2.  The reference is gunicorn's own stdlib context in the
    same configuration: HTTP/2 served where gunicorn speaks it (else the
    stdlib fails the same way); tlsfast must do what it does."""
    if not _GTHREAD_REFERENCE:
        with gs.Gunicorn("gthread", "python", certs, context="stdlib",
                         alpn=["h2", "http/1.1"]) as server:
            _GTHREAD_REFERENCE.update(gs.curl_http_version(server.port, certs.ca_pem))
    reference = _GTHREAD_REFERENCE
    with gs.Gunicorn("gthread", impl_name, certs, alpn=["h2", "http/1.1"]) as server:
        got = gs.curl_http_version(server.port, certs.ca_pem)
    if GUNICORN_SPEAKS_H2:
        assert reference["rc"] == 0 and reference["http_version"] == "2", reference
        assert reference["body"] == "ssl.SSLSocket", reference
    # served, in the same HTTP version, or not served (how curl then fails
    # -- empty reply or reset -- depends on timing)
    assert (got["rc"] == 0) == (reference["rc"] == 0), (got, reference)
    assert got["http_version"] == reference["http_version"], (got, reference)
    if reference["rc"] == 0:
        assert got["body"] == f"{IMPL_MODULES[impl_name]}.SSLSocket", got


# --------------------------------------------------------------------------
# coalesced writes: sendmsg / sendmsg_all / tlsfast.gevent.WSGIHandler
# --------------------------------------------------------------------------

def test_sendmsg_coalesces_records(lib, impl, certs):
    """The green sendmsg: four buffers (601 bytes) in one record (TLS 1.3:
    plaintext + 17), 200 + 100000 + 1 bytes in ceil(100201 / 16384) = 7
    records, every one but the last full; a peer reading the raw socket
    counts them (the two records before the first are session tickets)."""
    data = scenario(lib, impl, certs, "sendmsg")
    assert data["small"] == 601
    assert data["records_small"][-1] == 618
    assert data["records_large"][:-1] == [16401] * 6
    assert data["records_large"][-1] == 100_201 - 6 * 16384 + 17
    assert data["type_errors"] == ["TypeError", "TypeError"]
    assert data["ancdata"] == "NotImplementedError"


def test_wsgi_records_per_response(lib, impl, certs):
    """gevent.pywsgi's stock handler sends headers and body as two records;
    tlsfast.gevent.WSGIHandler as one (and a 40000-byte body in three full
    or tail records instead of four).  eventlet.wsgi already joins headers
    and a small body in its 16 KiB BufferedWriter (one record); a body
    that does not fit there goes after a headers-only record (left as
    is: eventlet writes through io.BufferedWriter, not the socket)."""
    data = scenario(lib, impl, certs, "wsgi_records")
    if lib == "eventlet":
        assert len(data["eventlet_100"]) - 2 == 1
        assert len(data["eventlet_40000"]) - 2 == 4
        return
    tickets = data["stock_100"][:2]
    assert data["tlsfast_100"][:2] == tickets
    assert len(data["stock_100"]) - 2 == 2
    assert len(data["tlsfast_100"]) - 2 == 1
    assert len(data["stock_40000"]) - 2 == 4
    assert len(data["tlsfast_40000"]) - 2 == 3
    assert data["tlsfast_40000"][2:4] == [16401, 16401]
