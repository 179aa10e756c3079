// logwire-mcp's Streamable HTTP transport (issue 6): filled in with it.
