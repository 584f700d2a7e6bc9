"""atheris target: tlsfast's own certificate decoding (``_certs.pxi``).

``getpeercert()``, ``get_peer_cert_chain()``, ``get_verified_chain()`` and
``get_ca_certs()`` turn X.509 certificates into the stdlib's dicts with
tlsfast's code (names, subjectAltName of every kind, AIA, CRL distribution
points, serial numbers and times printed by OpenSSL).  A peer's chain is
decoded even when it was not verified (``get_peer_cert_chain()`` with
``CERT_NONE``), so this code sees attacker-chosen DER.

The input is DER (mutated from the seeds in fuzz/corpus/certs/: the fixed
certificates and one with every decoded extension), written as PEM to a temp
file and decoded by ``tlsfast._tls_c._test_decode_cert`` and by the
stdlib's ``_ssl._test_decode_cert``: the two must agree (same dict, or both
raise; tlsfast documents its decoding as identical to the stdlib's).
Only ssl.SSLError and ValueError (UnicodeDecodeError for non-UTF-8 text, as
in the stdlib) may be raised.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _harness as H  # noqa: E402

_tmp = tempfile.mkdtemp(prefix="tlsfast-fuzz-certs-")
atexit.register(shutil.rmtree, _tmp, True)
PATH = os.path.join(_tmp, "cert.pem")
EXPECTED = (ssl.SSLError, ValueError)


def decode(fn):
    try:
        return "ok", fn(PATH)
    except EXPECTED as exc:
        return "error", exc


def one_input(data):
    import _ssl
    mod = H.load()
    pem = (b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(data)
           + b"-----END CERTIFICATE-----\n")
    with open(PATH, "wb") as f:
        f.write(pem)
    ours = decode(mod._test_decode_cert)
    ref = decode(_ssl._test_decode_cert)
    H.feature("cert", ours[0], type(ours[1]).__name__ if ours[0] == "error" else len(ours[1]))
    if ours[0] == "ok":
        for key, value in ours[1].items():
            H.feature("cert-field", key, len(value) if isinstance(value, tuple) else 0)
    if ours[0] != ref[0]:
        raise H.Finding(f"tlsfast {ours[0]}: {ours[1]!r}\nstdlib {ref[0]}: {ref[1]!r}")
    if ours[0] == "ok" and ours[1] != ref[1]:
        diff = {k: (ours[1].get(k), ref[1].get(k)) for k in set(ours[1]) | set(ref[1])
                if ours[1].get(k) != ref[1].get(k)}
        raise H.Finding(f"decoded certificates differ from the stdlib's: {diff!r}")
    H.check_unraisable()


def main():
    import atheris
    H.load()
    H.init_features()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
