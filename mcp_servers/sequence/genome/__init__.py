"""Genome and contig annotation for CRESS-DNA viruses: genes on both strands with circular wrap, the Rep (spliced
where a known pattern applies) and capsid, the nonanucleotide stem-loop origin, family, GenBank and a genome map.

    from mcp_servers.sequence.genome import annotate_genome, genome_map_png, to_genbank
    result = annotate_genome(open("PCV2.fna").read())      # {"records": [...]} (schema.GENOME_SCHEMA)
    genome_map_png(result, "pcv2.png")
    open("pcv2.gbk", "w").write(to_genbank(result, open("PCV2.fna").read()))
"""

from .annotate import annotate_genome
from .genbank import to_genbank, to_seqrecords
from .genome_map import genome_map_png
from .schema import GENOME_SCHEMA

__all__ = ["annotate_genome", "genome_map_png", "to_genbank", "to_seqrecords", "GENOME_SCHEMA"]
