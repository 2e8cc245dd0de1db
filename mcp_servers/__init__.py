"""MCP tool servers: sequence analysis (ESM-2, Rep annotation) and literature search."""
