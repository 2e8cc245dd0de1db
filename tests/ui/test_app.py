"""The pages' flows with Streamlit's AppTest, against the real AgentService (fake chat model): ask (streamed
answer, live trace, citations), sidebar settings and threads, errors, and the library's upload/list/search/remove."""

from __future__ import annotations

import pytest

from tests.ui.fakes import ANSWER, REP_TEXT
from ui.render import FAIL_MARK, OK_MARK


def _texts(at) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture
def real_kb(settings, tmp_path):
    """The real knowledge base (embedded Qdrant, bundled embedding models) holding one Rep passage."""
    from agent.kb import get_knowledge_base

    kb = get_knowledge_base(settings)
    doc = tmp_path / "pcv2-rep.md"
    doc.write_text(f"# The Rep protein of porcine circovirus 2\n\n{REP_TEXT}\n", encoding="utf-8")
    kb.ingest_paths([doc])
    yield kb
    kb.close()


def test_ask_shows_answer_trace_and_citations(app_test, make_client, real_kb):
    at = app_test(make_client(knowledge_base=real_kb))
    at.chat_input[0].set_value("What does the PCV2 Rep protein do?").run()
    assert not at.exception, at.exception

    labels = [s.label for s in at.status]
    assert labels[0].startswith("Trace — ") and "steps" in labels[0], labels
    for node in ("route", "rewrite", "retrieve", "grade", "answer", "verify"):
        assert any(f"**{node}**" in label for label in labels), (node, labels)
    assert any("**retrieve** — round 1, 1 passage" in label for label in labels), labels
    assert any("**verify** — 1 citation" in label for label in labels), labels
    text = _texts(at)
    assert "**Route:** `retrieve`" in text and "**Search queries (round 1):**" in text
    assert ANSWER in text  # the checked answer, its [P1] kept because P1 was retrieved
    citation = next(e for e in at.expander if e.label.startswith("[P1]"))
    body = "\n".join(m.value for m in citation.markdown)
    assert "**Source:** file" in body and "**Score:**" in body and "rolling-circle replication" in body
    assert "dense" in citation.caption[0].value and "sparse" in citation.caption[0].value


def test_sidebar_settings_reach_the_run_and_threads_continue(app_test, make_client, fake_chat):
    at = app_test(make_client())
    at.sidebar.slider(key="opt_temperature").set_value(0.7)
    at.sidebar.slider(key="opt_top_p").set_value(0.5)
    at.chat_input[0].set_value("What does the PCV2 Rep protein do?").run()
    assert not at.exception, at.exception
    assert set(fake_chat.seen) == {(0.7, 0.5)}
    thread = at.session_state["thread_id"]
    assert thread
    at.chat_input[0].set_value("And its helicase domain?").run()
    assert at.session_state["thread_id"] == thread and len(at.chat_message) == 4

    # A new thread, then the first one again from the user's thread list (history from the checkpointer).
    at.sidebar.button(key="new_thread").click().run()
    assert at.session_state["thread_id"] is None and len(at.chat_message) == 0
    assert at.sidebar.selectbox(key="thread_pick").options[0].startswith("What does the PCV2 Rep protein do?")
    at.sidebar.selectbox(key="thread_pick").set_value(thread).run()
    at.sidebar.button(key="open_thread_pick").click().run()
    assert at.session_state["thread_id"] == thread
    contents = [m.markdown[0].value for m in at.chat_message]
    assert contents[0] == "What does the PCV2 Rep protein do?" and contents[2] == "And its helicase domain?"
    assert len(contents) == 4


def test_a_sequence_reaches_the_tools_unless_they_are_disabled(app_test, make_client):
    fasta = ">rep\nMPSKKNGRSGPQPHKRWVFTLNNPSEDERKKIRELPISLFDYFIVGEEGNEEGRTPHLQGFANFVKKQTF"
    at = app_test(make_client())
    tools = at.sidebar.multiselect(key="opt_tools_choice")
    assert tools.options == ["annotate_rep"] and tools.value == ["annotate_rep"]
    at.chat_input[0].set_value(fasta).run()
    assert not at.exception, at.exception
    labels = [s.label for s in at.status]
    assert any("**route** — route: both" in label for label in labels), labels
    tool_box = next(s for s in at.status if "annotate_rep" in s.label and "result" in s.label)
    assert tool_box.state == "complete" and "**Arguments:**" in [m.value for m in tool_box.markdown]

    at.sidebar.multiselect(key="opt_tools_choice").set_value([]).run()
    at.sidebar.button(key="new_thread").click().run()
    at.chat_input[0].set_value(fasta).run()
    assert not at.exception, at.exception
    labels = [s.label for s in at.status]
    assert any("**route** — route: retrieve" in label for label in labels), labels
    assert not any("annotate_rep" in label for label in labels), labels


def test_llm_down_is_a_readable_message_in_the_chat(app_test, make_client, make_service, settings):
    settings.llm.base_url = "http://127.0.0.1:9/v1"  # nothing listens there
    at = app_test(make_client(service=make_service(chat_model=None)))
    summary = " ".join(c.value for c in at.sidebar.caption)
    assert f"{FAIL_MARK} llm" in summary
    at.chat_input[0].set_value("What does Rep do?").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("is not reachable" in e and "BIOAGENT_LLM__BASE_URL" in e for e in errors), errors
    at.run()  # it stays in the conversation
    assert any("is not reachable" in e.value for e in at.error)


def test_sidebar_shows_endpoint_status(app_test, make_client):
    at = app_test(make_client())
    summary = " ".join(c.value for c in at.sidebar.caption)
    assert f"{OK_MARK} llm" in summary and f"{OK_MARK} qdrant" in summary and f"{OK_MARK} mcp_sequence" in summary


def test_library_upload_list_search_remove(app_test, make_client, settings):
    from agent.kb import get_knowledge_base

    kb = get_knowledge_base(settings)
    try:
        at = app_test(make_client(knowledge_base=kb))
        at.switch_page("views/library.py").run()
        assert not at.exception, at.exception
        assert any("library is empty" in c.value for c in at.caption)
        at.file_uploader(key="library_upload").set_value([
            ("rep-helicase.md", b"# Rep helicase\n\nThe SF3 helicase domain of Rep unwinds the viral DNA.",
             "text/markdown"),
            ("empty.txt", b"", "text/plain"),
        ]).run()  # a browser reruns the page when files are dropped in
        at.button(key="library_add").click().run()
        assert not at.exception, at.exception
        assert any("added or updated: 1;" in w.value for w in at.warning), [w.value for w in at.warning]
        assert any(e.value.startswith("empty.txt") for e in at.error), [e.value for e in at.error]
        assert [d.doc_id for d in kb.list_documents()] == ["rep-helicase"]
        assert at.dataframe[0].value["id"].tolist() == ["rep-helicase"]

        at.text_input(key="library_query").set_value("helicase unwinds DNA")
        at.button(key="FormSubmitter:library_search_form-Search").click().run()
        hit = next(e for e in at.expander if "Rep helicase" in e.label)
        assert "score" in hit.label and "dense" in hit.caption[0].value

        at.selectbox(key="library_remove").set_value("rep-helicase")
        at.button(key="FormSubmitter:library_remove_form-Remove").click().run()
        assert kb.list_documents() == []
        assert any("Removed rep-helicase" in s.value for s in at.success)
    finally:
        kb.close()


def test_chat_threads_and_library_over_the_http_api(app_test, api_server, http_client):
    at = app_test(http_client(api_server.url, api_server.keys["alice"]))
    assert any(f"API {api_server.url}" in c.value for c in at.sidebar.caption)
    assert any("Signed in as **alice**" in c.value for c in at.sidebar.caption)
    at.chat_input[0].set_value("What does the PCV2 Rep protein do?").run()
    assert not at.exception, at.exception
    labels = [s.label for s in at.status]
    assert labels[0].startswith("Trace — ") and any("**verify** — 1 citation" in label for label in labels), labels
    assert ANSWER in _texts(at)
    assert any(e.label.startswith("[P1]") for e in at.expander)
    thread = at.session_state["thread_id"]
    at.run()  # the sidebar (drawn before the page) lists the new thread on the next rerun
    options = at.sidebar.selectbox(key="thread_pick").options  # alice's threads, from the API
    assert len(options) == 1 and options[0].startswith("What does the PCV2 Rep protein do?")

    at.switch_page("views/library.py").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["id"].tolist() == ["pcv2-rep"]  # the shared library, listed over the API
    at.text_input(key="library_query").set_value("rolling-circle replication")
    at.button(key="FormSubmitter:library_search_form-Search").click().run()
    assert any("pcv2-rep" in e.label or "porcine" in e.label for e in at.expander)

    at.sidebar.selectbox(key="thread_pick").set_value(thread).run()
    at.sidebar.button(key="delete_thread_pick").click().run()
    assert not at.exception, at.exception
    assert any("No threads yet" in c.value for c in at.sidebar.caption)


def test_sign_in_page_then_chinese_remembered_for_the_user(app_test, api_server, settings, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.ui.conftest import APP

    settings.ui.api_url = api_server.url
    settings.api.api_key = None  # the UI has no key of its own: the user signs in
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Sign in to bioagent"
    at.text_input(key="signin_user").set_value("alice")
    at.text_input(key="signin_password").set_value("wrong")
    at.button(key="FormSubmitter:signin_password-Sign in").click().run()
    assert any("Sign-in failed" in e.value for e in at.error)
    at.text_input(key="signin_password").set_value("alice-password")
    at.button(key="FormSubmitter:signin_password-Sign in").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Ask bioagent"

    at.sidebar.radio(key="lang").set_value("zh").run()
    assert at.title[0].value == "向 bioagent 提问"
    assert any("当前用户：**alice**" in c.value for c in at.sidebar.caption)

    again = AppTest.from_file(str(APP), default_timeout=120)  # a new browser session of the same user
    again.run()
    again.text_input(key="signin_key_value").set_value(api_server.keys["alice"])
    again.button(key="FormSubmitter:signin_key-Sign in").click().run()
    assert not again.exception, again.exception
    assert again.title[0].value == "向 bioagent 提问"  # the preference came from the API


def test_a_new_user_with_an_empty_library_is_greeted_in_both_languages(app_test, make_client, settings):
    from tests.ui.fakes import MemoryKnowledgeBase

    kb = MemoryKnowledgeBase()
    at = app_test(make_client(knowledge_base=kb))
    assert any(s.value == "Your library is empty" for s in at.subheader)
    assert "Ingest the sample library" in _texts(at) and "bioagent lit pull" in _texts(at)
    at.session_state["lang"] = "zh"
    at.run()
    assert any(s.value == "你的文献库还是空的" for s in at.subheader)
    at.button(key="ingest_sample").click().run()
    assert not at.exception, at.exception
    assert len(kb.docs) >= 20  # examples/library
    assert not any(s.value == "你的文献库还是空的" for s in at.subheader)
    assert any("示例文献库已导入" in s.value for s in at.success)
