"""What the bridge's UAS must do with each RFC 4475 and RFC 5118 torture message.

One row per fixture under tests/fixtures/sip/rfc4475 and rfc5118 (see ATTRIBUTION.md there).
``outcome`` is the final response status, ``CALL`` for a valid INVITE that must be offered to
the call handler (100 and 180 sent, nothing final until the handler decides), or ``None`` when
nothing may be sent (responses that match no transaction; RFC 3261 never answers a response).

Where the RFC leaves a choice ("reject, or be liberal"), the bridge rejects, and the row says
so. Where the RFC's expected response belongs to a role the bridge does not play (registrar,
proxy), the row gives the UAS answer: REGISTER and MESSAGE are methods we recognise but do not
implement (405). Max-Forwards 0 earns 483 only at a proxy; an endpoint processes the request
(RFC 4475 3.3.11), so ``zeromf`` gets 200.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

FIXTURES: Final = Path(__file__).resolve().parents[1] / "fixtures" / "sip"
CALL: Final = "call"
Outcome = int | Literal["call"] | None


@dataclass(frozen=True, slots=True)
class Torture:
    suite: Literal["rfc4475", "rfc5118"]
    name: str  # file name in the suite's directory
    section: str  # where the RFC discusses it
    outcome: Outcome
    why: str  # the RFC's verdict, and our answer where it depends on the role
    valid: bool  # the RFC calls the message well formed (whatever the UAS then answers)

    @property
    def data(self) -> bytes:
        return (FIXTURES / self.suite / self.name).read_bytes()


def _4475(name: str, section: str, outcome: Outcome, why: str, *, valid: bool | None = None) -> Torture:
    """A row; a message is valid unless it earns 400/505, or ``valid`` says otherwise."""
    return Torture(
        "rfc4475", f"{name}.dat", section, outcome, why, outcome not in (400, 505) if valid is None else valid
    )


def _5118(name: str, section: str, outcome: Outcome, why: str) -> Torture:
    return Torture("rfc5118", name, section, outcome, why, outcome not in (400, 505))


TABLE: Final[tuple[Torture, ...]] = (
    # 3.1.1 Valid messages: parse them.
    _4475("wsinv", "3.1.1.1", 481, "valid; folding, LWS, compact forms, odd case; its To tag names no dialog"),
    _4475("intmeth", "3.1.1.2", 501, "valid; an extension method we do not know"),
    _4475("esc01", "3.1.1.3", CALL, "valid; escaped characters in URIs, PCMU offered"),
    _4475("escnull", "3.1.1.4", 405, "valid; escaped NULs; REGISTER is not ours to serve"),
    _4475("esc02", "3.1.1.5", 501, "valid; a % in a method is not an escape: unknown method"),
    _4475("lwsdisp", "3.1.1.6", 200, "valid; no LWS between display name and <"),
    _4475("longreq", "3.1.1.7", CALL, "valid; long values and many Via values, PCMU offered"),
    _4475("dblreq", "3.1.1.8", 405, "valid; octets after Content-Length are ignored (REGISTER)"),
    _4475("semiuri", "3.1.1.9", 200, "valid; semicolons in the user part, folded Accept"),
    _4475("transports", "3.1.1.10", 200, "valid; unknown transports in lower Via values"),
    _4475("mpart01", "3.1.1.11", 405, "valid; multipart body; MESSAGE is not ours to serve"),
    _4475("unreason", "3.1.1.12", None, "valid response with a UTF-8 reason; no transaction: dropped"),
    _4475("noreason", "3.1.1.13", None, "valid response with an empty reason; no transaction: dropped"),
    # 3.1.2 Invalid messages: reject them, never break.
    _4475("badinv01", "3.1.2.1", 400, "empty Via and Contact parameters"),
    _4475("clerr", "3.1.2.2", 400, "Content-Length larger than the datagram"),
    _4475("ncl", "3.1.2.3", 400, "negative Content-Length"),
    _4475("scalar02", "3.1.2.4", 400, "CSeq, Max-Forwards and Expires overflow"),
    _4475("scalarlg", "3.1.2.5", None, "response with overlarge values: dropped", valid=False),
    _4475("quotbal", "3.1.2.6", 400, "unterminated quoted display name"),
    _4475("ltgtruri", "3.1.2.7", 400, "Request-URI in <>"),
    _4475("lwsruri", "3.1.2.8", 400, "LWS inside the Request-URI"),
    _4475("lwsstart", "3.1.2.9", 400, "several SP between Request-Line elements"),
    _4475("trws", "3.1.2.10", 400, "SP after SIP-Version (may be accepted; we reject)"),
    _4475("escruri", "3.1.2.11", 400, "escaped headers in the Request-URI (may be ignored; we reject)"),
    _4475("baddate", "3.1.2.12", 400, "Date not in GMT (may be ignored; we reject)"),
    _4475("regbadct", "3.1.2.13", 400, "Contact URI with '?' not in <>"),
    _4475("badaspec", "3.1.2.14", 400, "spaces inside <> in To"),
    _4475("baddn", "3.1.2.15", 400, "non-token characters in an unquoted display name"),
    _4475("badvers", "3.1.2.16", 505, "SIP/7.0: Version Not Supported"),
    _4475("mismatch01", "3.1.2.17", 400, "CSeq method differs from the request method"),
    _4475("mismatch02", "3.1.2.18", 400, "unknown method and a CSeq mismatch: 400, not 501"),
    _4475("bigcode", "3.1.2.19", None, "response code 4294967301: dropped", valid=False),
    # 3.2 Transaction layer.
    _4475("badbranch", "3.2.1", 400, "branch is only the magic cookie"),
    # 3.3 Application layer.
    _4475("insuf", "3.3.1", 400, "To, From, Call-ID and Max-Forwards missing"),
    _4475("unkscm", "3.3.2", 416, "unknown Request-URI scheme"),
    _4475("novelsc", "3.3.3", 416, "known but unsupported Request-URI scheme"),
    _4475("unksm2", "3.3.4", 405, "unknown schemes in To/From are legal; REGISTER is not ours"),
    _4475("bext01", "3.3.5", 420, "unknown Require options, listed in Unsupported"),
    _4475("invut", "3.3.6", 415, "unknown Content-Type: 415 with Accept"),
    _4475("regaut01", "3.3.7", 405, "a registrar answers 401; REGISTER is not ours"),
    _4475("multi01", "3.3.8", 400, "several values in single-value headers"),
    _4475("mcl01", "3.3.9", 400, "two Content-Length values"),
    _4475("bcast", "3.3.10", None, "200 with a broadcast Via: matches nothing, dropped"),
    _4475("zeromf", "3.3.11", 200, "Max-Forwards 0: an endpoint processes it (483 is a proxy's)"),
    _4475("cparam01", "3.3.12", 405, "valid REGISTER; not ours"),
    _4475("cparam02", "3.3.13", 405, "valid REGISTER; not ours"),
    _4475("regescrt", "3.3.14", 405, "valid REGISTER with an escaped header in <>; not ours"),
    _4475("sdp01", "3.3.15", 406, "Accept excludes the SDP our answer needs: 406"),
    # 3.4 Backward compatibility.
    _4475("inv2543", "3.4.1", 400, "RFC 2543 syntax; may be accepted; we require Max-Forwards (RFC 3261 8.1.1)"),
    # RFC 5118, IPv6.
    _5118("ipv6-good", "4.1", 405, "valid IPv6 reference; REGISTER is not ours"),
    _5118("ipv6-bad", "4.2", 400, "IPv6 address without [] in the Request-URI"),
    _5118("port-ambiguous", "4.3", 405, "valid: the :5070 is inside [], part of the address"),
    _5118("port-unambiguous", "4.4", 405, "valid: port after []"),
    _5118("via-received-param-with-delim", "4.5", 481, "valid received=[...]; BYE for no dialog"),
    _5118("via-received-param-no-delim", "4.5", 200, "valid received without []"),
    _5118("ipv6-in-sdp", "4.6", 488, "valid; the SDP offers only G726: not acceptable here"),
    _5118("mult-ip-in-header", "4.7", 481, "valid; mixed IPv4/IPv6 Via; BYE for no dialog"),
    _5118("mult-ip-in-sdp", "4.8", CALL, "valid; PCMU on IPv4 media, video on IPv6"),
    _5118("ipv4-mapped-ipv6", "4.9", 488, "valid IPv4-mapped addresses; only G726 offered"),
    _5118("ipv6-bug-abnf-3-colons", "4.10", 200, "the RFC 3261 ABNF bug: accept three colons"),
    _5118("ipv6-correct-abnf-2-colons", "4.10", 200, "the corrected form: accept"),
)
