"""`python -m voice_agent_cli ...`: the same as the `voice-agent` command."""

import sys

from voice_agent_cli.main import main

sys.exit(main())
