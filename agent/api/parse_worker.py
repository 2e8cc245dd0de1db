"""Parse one uploaded file in a child process: ``python -m agent.api.parse_worker IN OUT MAX_BYTES``.

The API runs every parse here so that a parser that hangs or blows up (a hostile PDF) can be killed at
``BIOAGENT_API__PARSE_TIMEOUT_S`` without leaving a thread behind that holds a lock. The parsed documents are
pickled to OUT (read back only by the API process that started this one); a file that cannot be read exits 3
with the reason on stderr.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    src, out, max_bytes = argv[0], argv[1], int(argv[2])
    from agent.kb.errors import IngestError
    from agent.kb.loaders import load_file

    try:
        docs = list(load_file(Path(src), max_bytes))
    except IngestError as exc:
        print(str(exc), file=sys.stderr)
        return 3
    with open(out, "wb") as fh:
        pickle.dump(docs, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
