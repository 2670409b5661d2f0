"""What a node agent reports and does, as plain data shared by the agent and the plugin (core)."""
