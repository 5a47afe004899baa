"""The bridge's TLS certificate and key arrive as PEM text in environment variables (ECS
injects them from Secrets Manager); ``ssl`` loads a chain only from files, so they are written
once at boot to a private folder (0700, files 0600) that ``close()`` removes."""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    folder: Path
    cert_file: str
    key_file: str
    ca_file: str | None

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def write_tls_material(cert_pem: str, key_pem: str, ca_pem: str | None) -> TlsFiles:
    """Write the PEM text and check that the key matches the certificate (ValueError: one line)."""
    folder = Path(tempfile.mkdtemp(prefix="sip-tls-"))
    paths = {name: folder / name for name in ("cert.pem", "key.pem", "ca.pem")}
    for name, text in (("cert.pem", cert_pem), ("key.pem", key_pem), ("ca.pem", ca_pem)):
        if text is not None:
            fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text.replace("\\n", "\n"))  # a secret pasted on one line keeps its newlines
    files = TlsFiles(folder, str(paths["cert.pem"]), str(paths["key.pem"]), str(paths["ca.pem"]) if ca_pem else None)
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files.cert_file, files.key_file)
        if files.ca_file is not None:
            ssl.create_default_context(cafile=files.ca_file)
    except (ssl.SSLError, OSError) as exc:
        files.close()
        raise ValueError(f"the TLS certificate, key or CA is not usable PEM ({exc.__class__.__name__})") from None
    return files
