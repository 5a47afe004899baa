"""Throwaway TLS certificates for loopback calls: a private CA (``trustme``) that signs one
certificate for the bridge and one for the simulated caller, both for 127.0.0.1.

Written to a private temporary folder (mode 0700) that ``close()`` removes. Nothing here is
for production: there the bridge presents the certificate of its origination host name.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoopbackTls:
    folder: Path
    ca_file: str  # both sides trust this CA
    bridge_cert: str
    bridge_key: str
    caller_cert: str
    caller_key: str

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def bridge_settings(self) -> dict[str, object]:
        """SipConfig fields for a bridge that takes only TLS + SRTP calls (a free TLS port)."""
        return {
            "transports": ("tls",),
            "tls_port": 0,
            "tls_cert_file": self.bridge_cert,
            "tls_key_file": self.bridge_key,
            "tls_ca_file": self.ca_file,
            "encryption": "required",
        }

    def caller_settings(self) -> dict[str, object]:
        """CallerOptions fields for a caller that calls over TLS and offers SRTP."""
        return {
            "transport": "tls",
            "srtp": True,
            "tls_ca_file": self.ca_file,
            "tls_cert_file": self.caller_cert,
            "tls_key_file": self.caller_key,
        }


def make_loopback_tls() -> LoopbackTls:
    try:
        import trustme  # a development dependency: only loopback calls need it
    except ImportError:
        raise RuntimeError("TLS on loopback needs the development dependencies (trustme): run `make setup`") from None
    folder = Path(tempfile.mkdtemp(prefix="voice-agent-tls-"))
    ca = trustme.CA(organization_name="voice-agent loopback test CA")
    files: dict[str, str] = {"ca": str(folder / "ca.pem")}
    ca.cert_pem.write_to_path(files["ca"])
    for who in ("bridge", "caller"):
        cert = ca.issue_cert("127.0.0.1", "localhost", common_name=f"voice-agent {who}")
        files[f"{who}_cert"] = str(folder / f"{who}.pem")
        files[f"{who}_key"] = str(folder / f"{who}.key")
        cert.private_key_pem.write_to_path(files[f"{who}_key"])
        with open(files[f"{who}_cert"], "wb") as out:
            for blob in cert.cert_chain_pems:
                out.write(blob.bytes())
    return LoopbackTls(
        folder=folder,
        ca_file=files["ca"],
        bridge_cert=files["bridge_cert"],
        bridge_key=files["bridge_key"],
        caller_cert=files["caller_cert"],
        caller_key=files["caller_key"],
    )
