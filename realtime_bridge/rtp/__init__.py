"""RTP for the bridge: packets, RFC 4733 DTMF, the paced sender and one call's session."""
