"""The agent-dk delivery pipeline: settings, command builders, one runner and the operations."""
