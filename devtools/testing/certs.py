"""A throwaway certificate authority and a server certificate for 127.0.0.1/localhost.

    ca = make_ca(tmp / "ca")                       # ca.pem, ca.key
    server = make_server_cert(ca, tmp / "server")  # server.pem (chain), server.key

Made with Debian's `openssl` command, so the project needs no crypto package of its own.
Keys are PKCS#8 and unencrypted: what Kafka's PEM keystore and PostgreSQL both read. The
certificates live for two days: long enough for a test run, useless if they leak.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DAYS = 2


class CertError(RuntimeError):
    """openssl is missing or refused to make a certificate."""


@dataclass(frozen=True)
class CertFiles:
    cert: Path  # PEM certificate (a server's: its certificate then the CA's)
    key: Path  # PEM PKCS#8 private key, unencrypted, mode 0600

    def keystore(self) -> Path:
        """Key and certificate chain in one PEM file: Kafka's `ssl.keystore.type=PEM`."""
        path = self.cert.with_name(self.cert.stem + "-keystore.pem")
        if not path.exists():
            path.write_text(self.key.read_text() + self.cert.read_text())
            path.chmod(0o600)
        return path


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise CertError("openssl is not on PATH (Debian: apt-get install openssl)")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise CertError(f"openssl {args[0]} failed: {(proc.stdout + proc.stderr).strip()[-1000:]}")


def make_ca(directory: Path, name: str = "claimflow test CA") -> CertFiles:
    directory.mkdir(parents=True, exist_ok=True)
    files = CertFiles(directory / "ca.pem", directory / "ca.key")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(files.key),
        "-out",
        str(files.cert),
        "-days",
        str(DAYS),
        "-subj",
        f"/CN={name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    os.chmod(files.key, 0o600)
    return files


def make_server_cert(
    ca: CertFiles, directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> CertFiles:
    """A server certificate signed by `ca`, valid for `hosts` (IP or DNS names)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, csr, leaf = directory / "server.key", directory / "server.csr", directory / "server-leaf.pem"
    names = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() else f"DNS:{h}" for h in hosts)
    extensions = directory / "server.ext"
    extensions.write_text(
        "\n".join(
            [
                "basicConstraints=critical,CA:FALSE",
                "keyUsage=critical,digitalSignature,keyEncipherment",
                "extendedKeyUsage=serverAuth,clientAuth",
                f"subjectAltName={names}",
                "subjectKeyIdentifier=hash",
                "authorityKeyIdentifier=keyid",
                "",
            ]
        )
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={hosts[0]}",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
        "-out", str(leaf), "-days", str(DAYS), "-extfile", str(extensions),
        cwd=directory,
    )  # fmt: skip
    os.chmod(key, 0o600)
    chain = directory / "server.pem"
    chain.write_text(leaf.read_text() + ca.cert.read_text())
    return CertFiles(chain, key)
