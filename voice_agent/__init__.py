"""The voice agent library: spec, tools, policy, record, evidence, decisions, stores, cli."""
