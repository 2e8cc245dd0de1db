"""Literature: the local library (knowledge base), PubMed (NCBI E-utilities) and Europe PMC.

- ``pubmed``: ``PubMedClient`` (esearch, efetch, search) and the efetch/esearch XML parsers;
- ``europepmc``: ``EuropePMCClient`` (REST search, ``resultType=core``) and its JSON parser;
- ``library``: ``ingest_pubmed`` (PubMed -> library, idempotent by PMID) and ``search_library``;
- ``http``: retries, rate limits and the response cache shared by the clients; ``errors``: what can go wrong;
- ``server``: the MCP server (``bioagent mcp literature``); ``cli``: ``bioagent lit ...``.

Nothing heavy is imported here: the knowledge base (embedding models) loads only when the library is used.
"""
