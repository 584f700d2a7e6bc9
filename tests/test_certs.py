"""Certificate and cipher decoding of the compiled implementation.

These tests compare ``tlsfast._tls_c`` against the stdlib's own decoder
(``_ssl._test_decode_cert``, ``ssl.SSLContext.get_ciphers``) on purpose: the
stdlib's ``Modules/_ssl.c`` is the reference behaviour, and ``getpeercert()``
/ ``get_ciphers()`` must give exactly the same values, key order included.

If ``tlsfast._tls_c`` does not import, every test here fails (never skips).
"""

import base64
import datetime
import importlib
import ipaddress
import pathlib
import ssl
import sys
import sysconfig

import _ssl
import pytest
import trustme
from helpers import with_tlsfast_floor
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

TLS_C = "tlsfast._tls_c"


def tls_c():
    """The compiled module; a failed import fails the calling test."""
    try:
        return importlib.import_module(TLS_C)
    except ImportError as exc:
        pytest.fail(f"{TLS_C} does not import: {exc!r}")


# --- certificates ----------------------------------------------------------------

_DATES = (datetime.datetime(2018, 1, 5, 9, 34, 43), datetime.datetime(2051, 2, 1, 0, 0, 0))
# > 256 characters as text: longer than cryptography builds, so written as raw DER
_LONG_OID = "1.3.6.1.4.1." + ".".join(["4294967295"] * 30)


def _der_read(buf, pos):
    tag, n = buf[pos], buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, buf[pos:pos + n], pos + n


def _der(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _der_children(content):
    items, pos = [], 0
    while pos < len(content):
        tag, value, pos = _der_read(content, pos)
        items.append((tag, value))
    return items


def _patch_tbs(cert, edit):
    """DER of ``cert`` with its TBSCertificate fields passed through
    ``edit`` (the signature no longer matches: decoding does not care)."""
    _, body, _ = _der_read(cert.public_bytes(serialization.Encoding.DER), 0)
    tbs, alg, sig = _der_children(body)
    fields = edit(_der_children(tbs[1]))
    new_tbs = _der(0x30, b"".join(_der(t, v) for t, v in fields))
    return _der(0x30, new_tbs + _der(*alg) + _der(*sig))


def _oid_body(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = b""
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return out


def _oid(dotted):
    return _der(0x06, _oid_body(dotted))


def _other_name(oid, der_value):
    return x509.OtherName(ObjectIdentifier(oid), der_value)


def _utf8(text):
    return _der(0x0C, text.encode())


def _build(subject, extensions=(), serial=0x1234_5678_9ABC_DEF0, issuer=None):
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer or subject)
               .public_key(key.public_key())
               .serial_number(serial)
               .not_valid_before(_DATES[0])
               .not_valid_after(_DATES[1]))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(key, hashes.SHA256())


def _rich_cert():
    """Every field the decoder renders: multi-valued and non-ASCII RDNs, an
    unknown and a very long OID, each kind of subjectAltName, OCSP and
    caIssuers with entries to skip, CRL distribution points of each shape."""
    dirname = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "dir"),
                                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dir Org")]),
    ])
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "CH")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.LOCALITY_NAME, "Zürich")]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ex Org"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Unit ☃"),
        ]),
        x509.RelativeDistinguishedName([x509.NameAttribute(
            NameOID.ORGANIZATIONAL_UNIT_NAME, "BMP ü", _type=_ASN1Type.BMPString)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(ObjectIdentifier("1.2.3.4.5"), "odd")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.org")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(
            NameOID.X500_UNIQUE_IDENTIFIER, b"\x00\x01\x02\xff", _type=_ASN1Type.BitString)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "rich.example")]),
    ])
    san = x509.SubjectAlternativeName([
        x509.DNSName("rich.example"),
        x509.DNSName("*.xn--bcher-kva.example"),
        x509.RFC822Name("user@example.org"),
        x509.UniformResourceIdentifier("https://rich.example/path?q=1"),
        x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
        x509.IPAddress(ipaddress.ip_address("::")),
        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.IPAddress(ipaddress.ip_address("fe80::a:0:0:ff")),
        x509.DirectoryName(dirname),
        x509.RegisteredID(ObjectIdentifier("1.2.840.113549")),
        x509.RegisteredID(ObjectIdentifier("1.2.3.4.99")),
        _other_name("1.3.6.1.4.1.311.20.2.3", _utf8("upn@example.org")),           # UPN
        _other_name("1.3.6.1.5.5.7.8.9", _utf8("ü@example.org")),                 # SmtpUTF8Mailbox
        _other_name("1.2.3.4.6", _der(0x04, b"\x00\x01")),                          # unsupported
    ])
    aia = x509.AuthorityInformationAccess([
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                               x509.UniformResourceIdentifier("http://ocsp.example/a")),
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                               x509.UniformResourceIdentifier("http://ca.example/ca.der")),
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                               x509.DNSName("not-a-uri.example")),
        x509.AccessDescription(ObjectIdentifier("1.3.6.1.5.5.7.48.5"),
                               x509.UniformResourceIdentifier("http://repo.example/")),
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                               x509.UniformResourceIdentifier("http://ocsp.example/b")),
    ])
    crl = x509.CRLDistributionPoints([
        x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.example/1.crl"),
                                x509.DNSName("skip.example"),
                                x509.UniformResourceIdentifier("ldap://crl.example/2")],
                               None, None, None),
        x509.DistributionPoint(None, x509.RelativeDistinguishedName(
            [x509.NameAttribute(NameOID.COMMON_NAME, "relative")]), None, None),
        x509.DistributionPoint(None, None, None, [x509.DirectoryName(dirname)]),
        x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.example/3.crl")],
                               None, None, None),
    ])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rich Issuer")])
    return _build(subject, [(san, False), (aia, False), (crl, False)],
                  serial=0x7F00_0000_0000_0000_0000_0000_0000_0000_0000_0001, issuer=issuer)


def _raw_ext_cert(oid, ext_der):
    """A certificate with the given extension DER (contents ``cryptography``
    refuses to build)."""
    ext = x509.UnrecognizedExtension(ObjectIdentifier(oid), ext_der)
    return _build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raw")]), [(ext, False)])


def _raw_san_cert(san_der):
    return _raw_ext_cert("2.5.29.17", _der(0x30, san_der))


def _write(directory, name, cert):
    """``cert`` (a Certificate or DER bytes) as ``<name>.pem``."""
    if isinstance(cert, x509.Certificate):
        cert = cert.public_bytes(serialization.Encoding.DER)
    b64 = base64.encodebytes(cert).replace(b"\n", b"")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    path = directory / f"{name}.pem"
    path.write_bytes(b"\n".join([b"-----BEGIN CERTIFICATE-----", *lines,
                                  b"-----END CERTIFICATE-----", b""]))
    return path


def _generated(directory):
    files = {}
    for key_type in (trustme.KeyType.RSA, trustme.KeyType.ECDSA):
        kind = key_type.name.lower()
        ca = trustme.CA(key_type=key_type, organization_name="tlsfast tests")
        leaf = ca.issue_cert("localhost", "example.org", "*.example.net", "éxamplë.org",
                             "127.0.0.1", "::1", "2001:db8::10:0:1", "10.0.0.0/8",
                             "2001:db8::/32", "user@example.org", key_type=key_type)
        for label, blob in (("ca", ca.cert_pem), ("leaf", leaf.cert_chain_pems[0]),
                            ("intermediate", ca.create_child_ca(key_type=key_type).cert_pem)):
            files[f"trustme_{label}_{kind}"] = path = directory / f"{label}_{kind}.pem"
            blob.write_to_path(str(path))
    rich = _rich_cert()
    files["rich"] = _write(directory, "rich", rich)
    # x400Address, ediPartyName, an otherName with a newline, a NUL in a DNS
    # name, an IP address of 3 bytes, a very long OID as registeredID and as
    # a DirName attribute (next to a multi-valued RDN)
    long_rdn = _der(0x31, _der(0x30, _oid(_LONG_OID) + _utf8("long")))
    two_rdn = _der(0x31, _der(0x30, _oid("2.5.4.3") + _utf8("a"))
                   + _der(0x30, _oid("2.5.4.10") + _der(0x13, b"b")))
    files["raw_san"] = _write(directory, "raw_san", _raw_san_cert(
        _der(0xA3, b"") + bytes.fromhex("a509a1070c057061727479")
        + _der(0xA0, _oid("1.3.6.1.4.1.311.20.2.3") + _der(0xA0, _utf8("two\nlines")))
        + _der(0x82, b"nul\x00.example") + _der(0x87, b"\x01\x02\x03")
        + _der(0x88, _oid_body(_LONG_OID))
        + _der(0xA4, _der(0x30, long_rdn + two_rdn))))
    files["serial_long"] = _write(directory, "serial_long", _patch_tbs(
        rich, lambda f: [f[0], (0x02, b"\x01" + bytes(range(2, 80)))] + f[2:]))
    files["serial_negative"] = _write(directory, "serial_negative", _patch_tbs(
        rich, lambda f: [f[0], (0x02, b"\xf0\x01\x02")] + f[2:]))
    # version 1: no [0] version field, no extensions
    files["version1"] = _write(directory, "version1", _patch_tbs(
        rich, lambda f: [x for x in f[1:] if x[0] != 0xA3]))
    # a certificate with nothing but caIssuers in its AIA
    files["ca_issuers_only"] = _write(directory, "ca_issuers_only", _build(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuers only")]),
        [(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier("http://ca.example/only"))]), False)]))
    return files


_GENERATED = ["trustme_ca_rsa", "trustme_intermediate_rsa", "trustme_leaf_rsa",
              "trustme_ca_ecdsa", "trustme_intermediate_ecdsa", "trustme_leaf_ecdsa",
              "rich", "raw_san", "serial_long", "serial_negative", "version1",
              "ca_issuers_only"]


def _errors(directory):
    """Certificates both decoders must reject, with the same exception type."""
    cn_xxxx = _build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "XXXX")]))
    raw = {
        # a DNS name that is not UTF-8: UnicodeDecodeError
        "bad_utf8_san": _raw_san_cert(_der(0x82, b"ok.example") + _der(0x82, b"\xff\xfe.example")),
        "bad_utf8_ocsp": _raw_ext_cert("1.3.6.1.5.5.7.1.1", _der(0x30, _der(
            0x30, _oid("1.3.6.1.5.5.7.48.1") + _der(0x86, b"http://\xff/")))),
        "bad_utf8_crl": _raw_ext_cert("2.5.29.31", _der(0x30, _der(0x30, _der(0xA0, _der(
            0xA0, _der(0x86, b"http://ok/") + _der(0x86, b"http://\xff/")))))),
        # a UTF8String that is not UTF-8: OpenSSL refuses the certificate (SSLError)
        "bad_utf8_subject": _patch_tbs(cn_xxxx, lambda f: [
            (t, v.replace(b"\x0c\x04XXXX", b"\x0c\x04\xff\xfe\xfd\xfc")) for t, v in f]),
        # a SEQUENCE as attribute value: parses, but has no text form (SSLError)
        "sequence_subject": _patch_tbs(cn_xxxx, lambda f: [
            (t, v.replace(b"\x0c\x04XXXX", b"\x30\x04\x05\x00\x05\x00")) for t, v in f]),
    }
    files = {name: _write(directory, name, cert) for name, cert in raw.items()}
    files["not_pem"] = directory / "not_pem.pem"
    files["not_pem"].write_bytes(b"hello\n")
    files["empty"] = directory / "empty.pem"
    files["empty"].write_bytes(b"")
    return files


_ERRORS = ["bad_utf8_san", "bad_utf8_ocsp", "bad_utf8_crl", "bad_utf8_subject",
           "sequence_subject", "not_pem", "empty"]


def _stdlib_cert_files():
    test_dir = pathlib.Path(sysconfig.get_paths()["stdlib"]) / "test"
    found = {}
    for directory in (test_dir / "certdata", test_dir):
        for path in sorted(directory.glob("*.pem")):
            if b"BEGIN CERTIFICATE" in path.read_bytes():
                found.setdefault(path.name, path)
    return found


_STDLIB = _stdlib_cert_files()


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    return {**_generated(directory), **_errors(directory)}


def _assert_same(ours, ref):
    assert ours == ref
    assert list(ours) == list(ref)          # key order too


def _assert_decodes_like_stdlib(mod, path):
    """Same dict as the stdlib, or an exception of the same type."""
    try:
        ref = _ssl._test_decode_cert(str(path))
    except Exception as exc:                # noqa: BLE001 - any: compared below
        with pytest.raises(type(exc)):
            mod._test_decode_cert(path)
    else:
        _assert_same(mod._test_decode_cert(path), ref)


@pytest.mark.parametrize("name", _GENERATED)
def test_decode_generated(cert_dir, name):
    mod = tls_c()
    path = cert_dir[name]
    try:
        ref = _ssl._test_decode_cert(str(path))
    except ssl.SSLError:
        # 3.9's _ssl fails with "unknown error" on some of these (fixed in
        # 3.10): nothing to compare with there; test_rich_certificate_fields
        # still checks the fields themselves
        if sys.version_info >= (3, 10):
            raise
        mod._test_decode_cert(path)
        pytest.skip("the stdlib of Python 3.9 cannot decode this certificate")
    _assert_same(mod._test_decode_cert(path), ref)


@pytest.mark.parametrize("name", sorted(_STDLIB) or [pytest.param(None, marks=pytest.mark.skip(
    reason="no stdlib test certificates installed"))])
def test_decode_stdlib_test_certs(name):
    _assert_decodes_like_stdlib(tls_c(), _STDLIB[name])


def test_rich_certificate_fields(cert_dir):
    """Spot checks, so that a stdlib change would not go unnoticed."""
    info = tls_c()._test_decode_cert(cert_dir["rich"])
    assert list(info) == ["subject", "issuer", "version", "serialNumber", "notBefore",
                          "notAfter", "subjectAltName", "OCSP", "caIssuers",
                          "crlDistributionPoints"]
    assert info["notBefore"] == "Jan  5 09:34:43 2018 GMT"
    assert info["notAfter"] == "Feb  1 00:00:00 2051 GMT"
    assert info["OCSP"] == ("http://ocsp.example/a", "http://ocsp.example/b")
    assert info["caIssuers"] == ("http://ca.example/ca.der",)
    assert info["crlDistributionPoints"] == ("http://crl.example/1.crl", "ldap://crl.example/2",
                                             "http://crl.example/3.crl")
    san = info["subjectAltName"]
    assert ("IP Address", "2001:DB8:0:0:0:0:0:1") in san
    assert ("IP Address", "0:0:0:0:0:0:0:0") in san
    assert ("othername", "<unsupported>") in san
    assert (("localityName", "Zürich"),) in info["subject"]
    assert (("x500UniqueIdentifier", b"\x01\x02\xff"),) in info["subject"]
    raw = tls_c()._test_decode_cert(cert_dir["raw_san"])["subjectAltName"]
    assert ("Registered ID", _LONG_OID) in raw
    assert ("IP Address", "<invalid>") in raw


@pytest.mark.parametrize("name", _ERRORS)
def test_decode_errors(cert_dir, name):
    mod = tls_c()
    with pytest.raises(Exception):          # noqa: B017 - the stdlib's type is checked next
        _ssl._test_decode_cert(str(cert_dir[name]))
    _assert_decodes_like_stdlib(mod, cert_dir[name])


def test_decode_missing_file(tmp_path):
    with pytest.raises(OSError):
        tls_c()._test_decode_cert(tmp_path / "missing.pem")


# --- ciphers -----------------------------------------------------------------------

def test_get_ciphers_matches_stdlib():
    ours = tls_c().SSLContext(ssl.PROTOCOL_TLS_CLIENT).get_ciphers()
    ref = with_tlsfast_floor(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)).get_ciphers()
    assert ours == ref
    assert [list(d) for d in ours] == [list(d) for d in ref]
