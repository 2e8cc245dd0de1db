"""Sequence endpoints: analyse a protein or DNA, annotate a genome, the structured report. All of them go through
the run admission and metrics (endpoints ``sequence_analyze``, ``sequence_genome``, ``sequence_report``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request

from agent.api.accounts import User
from agent.api.auth import require_user
from agent.api.errors import ERROR_RESPONSES, validation_error
from agent.api.resources import AnalyzeRequest, GenomeRequest, SequenceReportRequest
from agent.api.routes import check_message, ctx_of
from agent.api.schemas import ReportResponse

router = APIRouter(prefix="/v1/sequence", dependencies=[Depends(require_user)], responses=ERROR_RESPONSES,
                   tags=["sequence"])


async def _guarded(request: Request, endpoint: str, sequence: str, fn, *args: Any, **kwargs: Any) -> Any:
    ctx = ctx_of(request)
    check_message(ctx, sequence, ["body", "sequence"])

    async def work():
        return await asyncio.to_thread(fn, *args, **kwargs)

    try:
        return await ctx.execute(request, endpoint, work)
    except ValueError as exc:  # the sequence core's word on an unusable input
        raise validation_error(["body", "sequence"], str(exc) or "not a usable sequence") from None


@router.post("/analyze", summary="Annotate every protein (Rep motifs, properties), scan the chosen one; DNA too")
async def analyze(body: AnalyzeRequest, request: Request) -> dict[str, Any]:
    """Proteins, or DNA (its CDS/ORF translations are analysed and the genome annotated). ``scan``: the ESM-2
    mutational scan of the chosen protein (the best Rep call); ``mutations``: variant scores."""
    from agent.api import sequence

    settings = ctx_of(request).settings
    if body.mutations:
        from mcp_servers.sequence.mutations import parse_variants

        try:
            parse_variants(body.mutations)
        except ValueError as exc:
            raise validation_error(["body", "mutations"], str(exc)) from None
    return await _guarded(request, "sequence_analyze", body.sequence, sequence.analyze, body.sequence,
                          scan=body.scan, mutations=body.mutations, settings=settings)


@router.post("/genome", summary="Annotate a viral genome (ORFs, Rep, origin)")
async def genome(body: GenomeRequest, request: Request) -> dict[str, Any]:
    """The genome annotation of issue #13; ``map: true`` adds ``map_png_base64`` when the genome module draws one."""
    from agent.api import sequence

    def work() -> dict[str, Any]:
        out = sequence.annotate_genome(body.sequence, circular=body.circular)
        if body.map:
            out["map_png_base64"] = sequence.genome_map_png(out)
        return out

    return await _guarded(request, "sequence_genome", body.sequence, work)


@router.post("/report", response_model=ReportResponse, summary="Structured report for a protein or DNA sequence")
async def sequence_report(body: SequenceReportRequest, request: Request,
                          user: User = Depends(require_user)) -> ReportResponse:
    """Rep annotation, properties, the ESM-2 scan summary (``scan``) and library passages (``literature``; the
    user's documents plus the shared library), as Markdown plus the figures' data."""
    from agent.kb.scope import scope_for

    ctx = ctx_of(request)
    check_message(ctx, body.sequence, ["body", "sequence"])
    kwargs: dict[str, Any] = {"lang": body.lang, "scan": body.scan, "literature": body.literature}
    if not user.is_admin:
        kwargs["scope"] = scope_for(user.name)
    try:
        result = await ctx.execute(request, "sequence_report", lambda: ctx.service.report(body.sequence, **kwargs))
    except ValueError as exc:
        raise validation_error(["body", "sequence"], str(exc) or "not a usable sequence") from None
    return ReportResponse.model_validate(result)
