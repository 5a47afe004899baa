"""SIP for the bridge: a sans-I/O parser and user agent server, with thin asyncio transports."""
