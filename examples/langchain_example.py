"""Marquee in a LangChain app: the recommender as a Runnable in a chain, as a tool, and serve.py
behind LangChain's own ChatOpenAI.

    python examples/langchain_example.py                                  # in-process (vLLM, the 135M pack)
    python examples/langchain_example.py --url http://127.0.0.1:8000/v1   # ChatOpenAI against a running serve.py
"""

from __future__ import annotations

import argparse


def in_process(query: str) -> None:
    from langchain_core.runnables import RunnableLambda

    from agent.langchain import MarqueeRunnable, recommend_tool

    marquee = MarqueeRunnable.from_settings()  # Settings() from MARQUEE_* variables: catalog, store, model
    # a chain: plain text in, the top film's title and explanation out
    chain = RunnableLambda(lambda q: {"query": q, "n": 3}) | marquee | RunnableLambda(
        lambda out: f"{out.recommendations[0].title}: {out.recommendations[0].explanation}" if out.recommendations
        else out.content)
    print("chain:", chain.invoke(query))
    print("stream:")
    for chunk in marquee.stream({"query": query, "n": 3}):
        print(chunk.content, end="", flush=True)
    # follow-up turns: the earlier answer is part of the conversation
    first = marquee.invoke({"query": query, "n": 3})
    again = marquee.invoke({"query": "I've seen #1. More like #2, but shorter", "n": 3,
                            "messages": [{"role": "user", "content": query},
                                         {"role": "assistant", "content": first.content}]})
    print("follow-up:\n" + again.content)
    tool = recommend_tool(marquee)
    print("tool schema:", sorted(tool.args))
    print("tool:", tool.invoke({"query": "a comedy from the 90s", "n": 2}))


def over_http(url: str, query: str) -> None:
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=url, api_key="none", model="marquee")
    answer = llm.invoke(query)
    print(answer.content)
    for chunk in llm.stream([HumanMessage(query), AIMessage(answer.content), HumanMessage("something different")]):
        print(chunk.content, end="", flush=True)


if __name__ == "__main__":  # vLLM starts worker processes: the guard is required
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running serve.py, e.g. http://127.0.0.1:8000/v1 (default: in-process)")
    ap.add_argument("--query", default="I loved Alien and Heat. Something tense tonight, not horror.")
    args = ap.parse_args()
    if args.url:
        over_http(args.url, args.query)
    else:
        in_process(args.query)
