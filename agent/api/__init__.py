"""The HTTP API: FastAPI app (``create_app``) served by ``bioagent serve``; see docs/api.md."""

from agent.api.app import create_app

__all__ = ["create_app"]
