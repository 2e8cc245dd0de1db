"""Build the shipped Rep profiles, reference set and calibration from CRESSENT's curated databases.

    python scripts/build_rep_profiles.py --cressent /path/to/cressent   # a checkout or a (bare/mirror) git dir

Writes mcp_servers/sequence/data/{rep_profiles.hmm.gz, rep_references.faa.gz, rep_calibration.json}. Only
training-split proteins (mcp_servers/sequence/rep_split.py) are used; every input goes through assert_training.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcp_servers.sequence import rep_build, rep_profiles  # noqa: E402
from mcp_servers.sequence.rep_data import Protein, git_commit, load_cressent  # noqa: E402
from mcp_servers.sequence.rep_split import assert_training  # noqa: E402


def write_references(refs: list[Protein], path: Path) -> None:
    assert_training((p.header for p in refs), "reference set")
    text = "".join(f">{p.accession} family={p.family} genus={p.genus or '-'}\n{p.sequence}\n" for p in refs)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as fh:
        fh.write(text.encode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cressent", type=Path, required=True, help="CRESSENT checkout or git dir")
    ap.add_argument("--out", type=Path, default=rep_profiles.DATA_DIR)
    args = ap.parse_args(argv)
    commit = git_commit(args.cressent)
    proteins = load_cressent(args.cressent)
    print(f"CRESSENT @ {commit}: {len(proteins)} labelled proteins")
    t0 = time.perf_counter()
    hmms = rep_build.build(proteins, log=print)
    args.out.mkdir(parents=True, exist_ok=True)
    rep_profiles.write_profiles(hmms, args.out / "rep_profiles.hmm.gz")
    refs = rep_build.references(proteins, hmms, log=print)
    write_references(refs, args.out / "rep_references.faa.gz")
    cal = rep_build.calibrate(proteins, hmms, log=print)
    cal["source"] = {"repository": "https://github.com/ricrocha82/cressent", "commit": commit,
                     "paths": ["DB/reps/*.fa", "DB/caps/*.fa"], "licence": "MIT"}
    cal["profiles"] = [rep_profiles.text(h.name) for h in hmms]
    cal["references"] = len(refs)
    (args.out / "rep_calibration.json").write_text(json.dumps(cal, indent=1, sort_keys=True) + "\n")
    print(f"{len(hmms)} profiles, {len(refs)} references, {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
