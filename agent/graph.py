"""The agent's graph: route -> rewrite -> retrieve -> grade (-> rewrite ...) -> plan_tools <-> run_tools -> answer -> verify.

```
route ──direct──────────────────────────────────────────────┐
  │ retrieve/both                                            │
  ▼                                                          ▼
rewrite ─► retrieve ─► grade ──insufficient, rounds left──► rewrite
                        │  └─ agentic, still insufficient ─► corrective (PubMed -> library) ─► retrieve
                        │ enough / no rounds left
                        ├── tools/both ─► plan_tools ⇄ run_tools (back only if the model called tools) ─► answer ─► verify ─► END
                        └── retrieve ──────────────────────────────► answer
route ──tools──► plan_tools
```

``graph`` (module level, no checkpointer) is what ``langgraph.json`` exposes; the runner compiles its own with
a checkpointer via ``build_graph``.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agent import nodes
from agent.context import Context
from agent.state import InputState, State

NODES = ["route", "rewrite", "retrieve", "grade", "corrective", "plan_tools", "run_tools", "answer", "verify"]


def builder() -> StateGraph:
    g = StateGraph(State, context_schema=Context, input_schema=InputState)
    g.add_node("route", nodes.route)
    g.add_node("rewrite", nodes.rewrite)
    g.add_node("retrieve", nodes.retrieve)
    g.add_node("grade", nodes.grade)
    g.add_node("corrective", nodes.corrective)
    g.add_node("plan_tools", nodes.plan_tools)
    g.add_node("run_tools", nodes.run_tools)
    g.add_node("answer", nodes.answer)
    g.add_node("verify", nodes.verify)
    g.add_edge(START, "route")
    g.add_conditional_edges("route", nodes.after_route, ["rewrite", "plan_tools", "answer"])
    g.add_edge("rewrite", "retrieve")
    g.add_edge("retrieve", "grade")
    g.add_conditional_edges("grade", nodes.after_grade, ["rewrite", "corrective", "plan_tools", "answer"])
    g.add_conditional_edges("corrective", nodes.after_corrective, ["retrieve", "plan_tools", "answer"])
    g.add_conditional_edges("plan_tools", nodes.after_plan_tools, ["run_tools", "answer"])
    g.add_conditional_edges("run_tools", nodes.after_run_tools, ["plan_tools", "answer"])
    g.add_edge("answer", "verify")
    g.add_edge("verify", END)
    return g


def build_graph(checkpointer=None):
    """Compile the graph (with a checkpointer for multi-turn conversations)."""
    return builder().compile(checkpointer=checkpointer, name="bioagent")


graph = build_graph()
"""The graph for LangGraph's own tooling (`langgraph dev`, Studio); see langgraph.json."""
