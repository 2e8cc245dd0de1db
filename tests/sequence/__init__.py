"""Tests of the sequence area (mcp_servers/sequence)."""
