// Starting a broker for logwire-mcp when none runs (issue 6): filled in with it.
