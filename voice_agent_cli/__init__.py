"""The `voice-agent` command line (see `voice_agent_cli.main`)."""
