"""Throw-away C2PA signing for tests: a root CA and an ES256 signer made with ``cryptography``.

C2PA needs a chain (leaf + CA, not a self-signed leaf), digitalSignature key usage and an
extended key usage on the leaf (emailProtection is one the SDK accepts).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Consentry Test")])


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                         crl_sign=ca, encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class ThrowawaySigner:
    chain_pem: bytes
    key_pem: bytes
    ca_pem: str

    @classmethod
    def create(cls, common_name: str = "Test Signer") -> ThrowawaySigner:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (x509.CertificateBuilder().subject_name(_name("Test Root CA"))
              .issuer_name(_name("Test Root CA")).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=7))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(_usage(sign=False, ca=True), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=7))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_usage(sign=True, ca=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        pem = serialization.Encoding.PEM
        return cls(chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
                   key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()),
                   ca_pem=ca.public_bytes(pem).decode())

    def sign_jpeg(self, jpeg: bytes, *, source_type: str = "trainedAlgorithmicMedia",
                  generator: str = "ExampleGen") -> bytes:
        import c2pa

        action = {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}
        manifest = {"claim_generator_info": [{"name": generator, "version": "2.1"}],
                    "title": "test.jpg",
                    "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}]}
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", self.chain_pem, self.key_pem,
                                                           None))
        out = io.BytesIO()
        with c2pa.Builder(json.dumps(manifest)) as builder:
            builder.sign(signer, "image/jpeg", io.BytesIO(jpeg), out)
        return out.getvalue()


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, whole segment) for each header segment before the scan data."""
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segments.append((data[pos + 1], data[pos : pos + 2 + length]))
        pos += 2 + length
    return segments


def transplant_manifest(signed: bytes, other_jpeg: bytes) -> bytes:
    """The signed file's C2PA segments (APP11) put on other pixels: "edited after signing"."""
    app11 = b"".join(seg for marker, seg in jpeg_segments(signed) if marker == 0xEB)
    assert app11, "no C2PA segment in the signed file"
    return other_jpeg[:2] + app11 + other_jpeg[2:]
