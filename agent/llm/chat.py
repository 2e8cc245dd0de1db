"""The ChatOpenAI class bioagent uses (imported lazily: langchain-openai is slow to import)."""

from __future__ import annotations

from langchain_openai import ChatOpenAI


class CompatChatOpenAI(ChatOpenAI):
    """ChatOpenAI whose requests every OpenAI-compatible server accepts, llama.cpp's included.

    Two differences from the requests langchain-openai builds, both valid for SGLang, vLLM and OpenAI:
    - the output limit goes under ``max_tokens`` as well as ``max_completion_tokens``: llama.cpp's server reads
      only ``max_tokens`` and would otherwise generate up to its context size;
    - an assistant message that only carries tool calls has ``content: ""`` instead of ``null``: llama.cpp's
      server rejects ``null`` (HTTP 500), which would break every tool round trip;
    - a named tool choice (``{"type": "function", "function": {"name": N}}``) is sent as the one tool N with
      ``tool_choice: "required"``, which means the same thing: llama.cpp's server accepts only a string there
      and would otherwise drop the choice with a warning.
    """

    def _get_request_payload(self, input_, *, stop=None, **kwargs):
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if payload.get("max_completion_tokens") is not None and "max_tokens" not in payload:
            payload["max_tokens"] = payload["max_completion_tokens"]
        for message in payload.get("messages") or ():
            if isinstance(message, dict) and message.get("role") == "assistant" and message.get("content") is None:
                message["content"] = ""
        choice = payload.get("tool_choice")
        if isinstance(choice, dict) and payload.get("tools"):
            name = (choice.get("function") or {}).get("name")
            chosen = [t for t in payload["tools"] if (t.get("function") or {}).get("name") == name]
            if chosen:
                payload["tools"] = chosen
                payload["tool_choice"] = "required"
        return payload
