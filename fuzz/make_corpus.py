"""Regenerate the seed corpus in fuzz/corpus/ (and, with --new-certs, the
fixed certificates in fuzz/certs/) from real tlsfast handshakes.

    python fuzz/make_corpus.py [--new-certs]

Every seed is one input of the target it lives under (byte 0 = flags, see
fuzz/_harness.py):

* ``server/``: the *client* flights of TLS 1.2 and 1.3 handshakes between
  two tlsfast SSLObjects (ClientHello; ClientHello + the client's second
  flight), whole and chunked, for several flag sets; plus a few
  established-connection operation scripts.
* ``client/``: the *server* flights of the same handshakes, and scripts.
* ``api/``: a few call programs for fuzz_api.py.
* ``certs/``: DER of the fixed certificates and of one with every field
  tlsfast decodes, for fuzz_certs.py.

Runs on the normal build (no instrumentation needed).  Files are named
after what they hold, so a regeneration shows up as a readable diff.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import _harness as H  # noqa: E402
import _records as R  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")


def new_certs():
    """A CA, an intermediate, a server leaf (localhost, 127.0.0.1) and a client
    leaf, ECDSA P-256 (fast handshakes), valid for a long time."""
    import trustme
    os.makedirs(H.CERTS, exist_ok=True)
    ca = trustme.CA(organization_name="tlsfast fuzz CA")
    inter = ca.create_child_ca()
    until = datetime.datetime(2099, 1, 1)
    server = inter.issue_cert("localhost", "127.0.0.1", "alt.example", not_after=until)
    client = ca.issue_cert("client@example.com", common_name="fuzz client", not_after=until)
    ca.cert_pem.write_to_path(H.CA_PEM)
    with open(H.SERVER_PEM, "wb") as f:
        for blob in server.cert_chain_pems:
            f.write(blob.bytes())
        f.write(server.private_key_pem.bytes())
    with open(H.CLIENT_PEM, "wb") as f:
        for blob in client.cert_chain_pems:
            f.write(blob.bytes())
        f.write(client.private_key_pem.bytes())


def flights(flags):
    """[(sender, bytes)] of one handshake between two tlsfast SSLObjects
    configured for ``flags``, TLS 1.3 tickets included."""
    client = H.Side(H.client_context(flags), server_side=False)
    server = H.Side(H.server_context(flags), server_side=True)
    out = []
    sender, receiver = client, server
    client.step()
    for _ in range(8):
        data = sender.drain()
        if not data:
            break
        out.append(("client" if sender is client else "server", data))
        receiver.incoming.write(data)
        if not receiver.done:
            receiver.step()
        sender, receiver = receiver, sender
    assert client.done and server.done, flags
    return out


def flag_name(flags):
    parts = [f"v{'12' if flags & H.F_TLS12 else '13'}"]
    for bit, name in ((H.F_STDLIB_BIO, "stdbio"), (H.F_CLIENT_AUTH, "cauth"),
                      (H.F_EXTENSIONS, "ext"), (H.F_KEYLOG, "keylog"), (H.F_RAISING, "raising")):
        if flags & bit:
            parts.append(name)
    return "-".join(parts)


def op(name):
    return bytes([[f.__name__ for f in R.Script.OPS].index("op_" + name)])


SCRIPTS = {
    # name: (flags without mode bits, script bytes)
    "appdata": (0, op("peer_write") + b"\x00\x64" + op("read") + b"\x10\x00"
                + op("write") + b"\x00\x20" + op("read") + b"\x10\x00"),
    "appdata-v12": (H.F_TLS12, op("peer_write") + b"\x40\x00" + op("read") + b"\x40\x00"),
    "key-update": (0, op("peer_key_update") + b"\x01" + op("read") + b"\x01\x00"
                   + op("write") + b"\x00\x10" + op("key_update") + b"\x01" + op("read") + b"\x01\x00"),
    "corrupt": (0, op("peer_write_corrupt") + b"\x20\x00\x07\x80" + op("read") + b"\x01\x00"),
    "split": (0, op("peer_write_split") + b"\x30\x00\x09" + op("read") + b"\x01\x00"
              + op("release") + op("read") + b"\x01\x00"),
    "close-notify": (0, op("peer_shutdown") + op("read") + b"\x01\x00" + op("shutdown")
                     + op("probe")),
    "eof": (0, op("eof") + op("read") + b"\x01\x00" + op("probe")),
    "pha": (H.F_CLIENT_AUTH, op("peer_pha") + op("read") + b"\x01\x00" + op("to_peer")
            + op("pha") + op("read") + b"\x01\x00"),
    "renegotiate-v12": (H.F_TLS12, op("peer_renegotiate") + op("read") + b"\x01\x00"
                        + op("to_peer") + op("renegotiate") + op("read") + b"\x01\x00"),
    "record-appdata": (0, op("record") + b"\x17\x03\x03\x00\x20" + bytes(32) + b"\x00"
                       + op("read") + b"\x01\x00"),
    "record-alert": (0, op("record") + b"\x15\x03\x03\x00\x02\x02\x28\x00" + op("read") + b"\x01\x00"),
    "record-ccs-v12": (H.F_TLS12, op("record") + b"\x14\x03\x03\x00\x01\x01\x00"
                       + op("read") + b"\x01\x00"),
    "exporter": (H.F_EXTENSIONS, op("exporter") + b"\x2f\x07EXPORTER-x" + op("peek") + b"\x00\x10"
                 + op("peer_write") + b"\x00\x05" + op("peek") + b"\x00\x10" + op("read_stdlib") + b"\x09\x70"),
    "stdlib-bio": (H.F_STDLIB_BIO | H.F_RAISING, op("peer_write") + b"\x00\x64" + op("read") + b"\x10\x00"
                   + op("peer_shutdown") + op("read") + b"\x00\x10" + op("shutdown")),
}

HANDSHAKE_FLAGS = [v | e | a for v in (0, H.F_TLS12) for e in (0, H.F_EXTENSIONS)
                   for a in (0, H.F_CLIENT_AUTH)]
EXTRA_FLAGS = [H.F_STDLIB_BIO, H.F_RAISING | H.F_KEYLOG, H.F_TLS12 | H.F_STDLIB_BIO | H.F_RAISING]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def handshake_seeds():
    for flags in HANDSHAKE_FLAGS + EXTRA_FLAGS:
        fl = flights(flags)
        name = flag_name(flags)
        for role, fuzz_target in (("client", "server"), ("server", "client")):
            sent = [data for sender, data in fl if sender == role]
            whole = bytes([flags | H.MODE_HANDSHAKE])
            write(fuzz_target, f"{name}-flight1", whole + sent[0])
            if len(sent) > 1 and flags in HANDSHAKE_FLAGS:
                write(fuzz_target, f"{name}-flights", whole + b"".join(sent))
            if flags in (0, H.F_TLS12):
                chunk = bytes([flags | H.MODE_CHUNKED, 4])   # 5-byte chunks: headers alone
                write(fuzz_target, f"{name}-chunked", chunk + sent[0])


def script_seeds():
    for name, (flags, script) in SCRIPTS.items():
        for target in ("server", "client"):
            write(target, f"script-{name}", bytes([flags | H.MODE_SCRIPT]) + script)


def rich_certificate():
    """DER of a certificate with every field tlsfast decodes: multi-valued
    RDNs, a long serial, subjectAltName of every kind, AIA, CRL points."""
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, AuthorityInformationAccessOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "XX")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsfast \u00e9"),
                                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "fuzz")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "rich.example")]),
    ])
    sans = [x509.DNSName("rich.example"), x509.DNSName("*.rich.example"),
            x509.RFC822Name("a@rich.example"), x509.UniformResourceIdentifier("https://rich.example/"),
            x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
            x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
            x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4.5")),
            x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir")])),
            x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03abc")]
    aia = [x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                  x509.UniformResourceIdentifier("http://ocsp.rich.example")),
           x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                  x509.UniformResourceIdentifier("http://ca.rich.example/ca.der"))]
    crl = [x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.rich.example/1.crl")],
                                  None, None, None)]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(2**150 + 12345)
            .not_valid_before(datetime.datetime(2020, 1, 1))
            .not_valid_after(datetime.datetime(2099, 1, 1))
            .add_extension(x509.SubjectAlternativeName(sans), False)
            .add_extension(x509.AuthorityInformationAccess(aia), False)
            .add_extension(x509.CRLDistributionPoints(crl), False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def cert_seeds():
    import ssl
    for name in ("ca", "server", "client"):
        with open(os.path.join(H.CERTS, name + ".pem")) as f:
            pems = f.read().split("-----END CERTIFICATE-----")
        for i, pem in enumerate(p for p in pems if "BEGIN CERTIFICATE" in p):
            pem = pem[pem.index("-----BEGIN"):] + "-----END CERTIFICATE-----\n"
            write("certs", f"{name}-{i}.der", ssl.PEM_cert_to_DER_cert(pem))
    write("certs", "rich.der", rich_certificate())


def api_seeds():
    import fuzz_api
    for name, program in fuzz_api.SEEDS.items():
        write("api", name, program)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--new-certs", action="store_true", help="regenerate fuzz/certs/ first")
    args = ap.parse_args()
    if args.new_certs or not os.path.exists(H.CA_PEM):
        new_certs()
    for target in ("server", "client", "api", "certs"):
        shutil.rmtree(os.path.join(CORPUS, target), ignore_errors=True)
    handshake_seeds()
    script_seeds()
    api_seeds()
    cert_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"fuzz/corpus/{target}: {len(files)} files, {size} bytes")


if __name__ == "__main__":
    main()
