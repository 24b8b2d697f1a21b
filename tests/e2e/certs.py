# SPDX-License-Identifier: MIT
"""Throwaway certificates for the TLS tests, made with python3-cryptography.

    ca = CA(tmp_dir)                               a test CA (ca.pem)
    cert, key = ca.issue("gate26.test", "127.0.0.1")  a server certificate signed by it
    cert, key = ca.issue("old.test", days=-1)      one that expired yesterday
    cert, key = self_signed(tmp_dir, "self.test")  signed by its own key

Names that parse as IP addresses go into the SAN as IP addresses, the others
as DNS names; the first is also the subject's CN. Files are PEM; keys are
unencrypted EC P-256.
"""
import datetime
import grp
import ipaddress
import itertools
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_serial = itertools.count(1000)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _san(names):
    out = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(out)


def _write(directory, stem, cert, key):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    c = directory / f"{stem}.pem"
    k = directory / f"{stem}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    k.chmod(0o600)
    if os.geteuid() == 0 and _gate26_gid() is not None:
        # As an admin gives it to gate26 (see conftest.give_key): a reload reads it as the user.
        os.chown(k, 0, _gate26_gid())
        k.chmod(0o640)
    return str(c), str(k)


def _gate26_gid():
    try:
        return grp.getgrnam("gate26").gr_gid
    except KeyError:
        return None


def _build(subject_cn, issuer_name, public_key, sign_key, names, days, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    if days >= 0:
        not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days)
    else:
        not_before, not_after = now - datetime.timedelta(days=30), now + datetime.timedelta(days)
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]))
         .issuer_name(issuer_name)
         .public_key(public_key)
         .serial_number(next(_serial))
         .not_valid_before(not_before)
         .not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        b = b.add_extension(_san(names), critical=False)
    return b.sign(sign_key, hashes.SHA256())


class CA:
    def __init__(self, directory, name="gate26 test CA"):
        self.dir = Path(directory)
        self.key = _key()
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = _build(name, self.name, self.key.public_key(), self.key, [], 3650, ca=True)
        self.pem, _ = _write(self.dir, "ca", self.cert, self.key)

    def issue(self, *names, days=30, stem=None):
        """(cert path, key path) for names, signed by this CA."""
        key = _key()
        cert = _build(names[0], self.name, key.public_key(), self.key, names, days)
        return _write(self.dir, stem or names[0].replace(":", "_"), cert, key)


def self_signed(directory, *names, days=30, stem=None):
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = _build(names[0], name, key.public_key(), key, names, days)
    return _write(directory, stem or "self-" + names[0], cert, key)
