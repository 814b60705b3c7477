"""A throw-away self-signed certificate for the HTTPS endpoints.

Uses the ``cryptography`` package when it is importable, else the ``openssl``
command line tool; the project does not depend on either for plain-HTTP use.
The certificate is its own CA (so clients can pass it as ``cafile``) and names
every address the fleet listens on.
"""

import datetime
import ipaddress
import os
import shutil
import subprocess

VALID_DAYS = 30
SUBJECT_CN = 'XenServer simulator'


def _split_names(names):
    ips, dns = [], []
    for name in dict.fromkeys(names):  # keep order, drop duplicates
        try:
            ips.append(ipaddress.ip_address(name))
        except ValueError:
            dns.append(name)
    return ips, dns


def make_certificate(directory, names):
    """Write cert.pem and key.pem into ``directory``; returns (cert_path,
    key_path)."""
    cert_path = os.path.join(directory, 'cert.pem')
    key_path = os.path.join(directory, 'key.pem')
    try:
        import cryptography  # noqa: F401
    except ImportError:
        _with_openssl(cert_path, key_path, names)
    else:
        _with_cryptography(cert_path, key_path, names)
    return cert_path, key_path


def _with_openssl(cert_path, key_path, names):
    openssl = shutil.which('openssl')
    if openssl is None:
        raise RuntimeError(
            "tls=True needs the 'cryptography' package or the openssl "
            'command line tool'
        )
    ips, dns = _split_names(names)
    san = ','.join(
        ['IP:%s' % ip for ip in ips] + ['DNS:%s' % name for name in dns]
    )
    cmd = [
        openssl, 'req', '-x509', '-nodes', '-newkey', 'ec',
        '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-keyout', key_path, '-out', cert_path, '-days', str(VALID_DAYS),
        '-subj', '/CN=%s' % SUBJECT_CN,
        '-addext', 'subjectAltName=%s' % san,
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
        '-addext', 'extendedKeyUsage=serverAuth',
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError('openssl failed: %s' % proc.stderr.strip())


def _with_cryptography(cert_path, key_path, names):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT_CN)])
    ips, dns = _split_names(names)
    alt_names = [x509.IPAddress(ip) for ip in ips] + [
        x509.DNSName(d) for d in dns
    ]
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    with open(key_path, 'wb') as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, 'wb') as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
