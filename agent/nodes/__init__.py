"""The graph's nodes, one module per stage, and the routers between them.

Every node is an async function ``(state, runtime) -> update`` wrapped in ``agent.model_calls.traced`` (timing,
token counts, one ``step`` event with what it decided). Every model call has a deterministic fallback, so a
weak model or a model error degrades the answer, never the run. How much the model decides depends on the
run's mode (``Context.mode``): evidence, guarded or agentic.
"""

from agent.nodes.answer import answer
from agent.nodes.corrective import after_corrective, corrective
from agent.nodes.grade import after_grade, grade
from agent.nodes.retrieve import retrieve
from agent.nodes.rewrite import rewrite
from agent.nodes.route import after_route, route
from agent.nodes.tools import after_plan_tools, after_run_tools, plan_tools, run_tools
from agent.nodes.verify import verify

__all__ = ["route", "after_route", "rewrite", "retrieve", "grade", "after_grade", "corrective", "after_corrective",
           "plan_tools", "after_plan_tools", "run_tools", "after_run_tools", "answer", "verify"]
