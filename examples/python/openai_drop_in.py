"""The official openai client, routed by turnout: change the line that builds the client and
nothing else. Every request goes to blue or green as turnout decides, with that side's key.

    turnout sim --port 8001 &  turnout sim --port 8002 &
    python examples/python/openai_drop_in.py --blue http://127.0.0.1:8001/v1 --green http://127.0.0.1:8002/v1

URLs also come from TURNOUT_BLUE_URL / TURNOUT_GREEN_URL, keys from TURNOUT_BLUE_KEY /
TURNOUT_GREEN_KEY. Needs `pip install openai`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import httpx
import openai

import turnout


def environments(blue_url: str, green_url: str) -> dict[str, turnout.Environment]:
    return {
        "blue": turnout.Environment(blue_url, api_key=os.environ.get("TURNOUT_BLUE_KEY"), label="v1"),
        "green": turnout.Environment(green_url, api_key=os.environ.get("TURNOUT_GREEN_KEY"), label="v2"),
    }


def sync_demo(blue_url: str, green_url: str) -> None:
    router = turnout.Client(**environments(blue_url, green_url), canary_weight=50.0)
    client = openai.OpenAI(
        api_key="unused",  # each environment's own key is sent instead
        base_url="http://turnout/v1",
        http_client=httpx.Client(transport=turnout.HttpxTransport(router)),
        max_retries=0,  # turnout retries and fails over already
    )
    with router, client:
        resp = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello from the official SDK"}]
        )
        print(
            "chat:",
            resp.choices[0].message.content,
            f"({resp.usage.total_tokens if resp.usage else '?'} tokens)",
        )

        print("stream: ", end="")
        for chunk in client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "stream these words back"}],
            stream=True,
        ):
            print(chunk.choices[0].delta.content or "", end="", flush=True)
        print()

        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "who served me?"}],
            extra_headers={"x-turnout-routing-key": "user-42"},  # sticky routing through the SDK
        )
        print(
            "served by:", raw.headers["x-turnout-environment"], "attempts:", raw.headers["x-turnout-attempts"]
        )

        emb = client.embeddings.create(model="text-embedding-3-small", input="turnout")
        print("embedding dims:", len(emb.data[0].embedding))
        print("models:", ", ".join(m.id for m in client.models.list()))

        try:
            client.chat.completions.create(model="m", messages=[])
        except openai.BadRequestError as e:
            print("an upstream 400 is openai's own BadRequestError:", e.status_code)
        print(
            "router status:", {k: v["window"]["requests"] for k, v in router.status()["environments"].items()}
        )


async def async_demo(blue_url: str, green_url: str) -> None:
    async with turnout.AsyncClient(**environments(blue_url, green_url)) as router:
        client = openai.AsyncOpenAI(
            api_key="unused",
            base_url="http://turnout/v1",
            http_client=httpx.AsyncClient(transport=turnout.AsyncHttpxTransport(router)),
            max_retries=0,
        )
        async with client:
            answers = await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}]
                    )
                    for i in range(10)
                )
            )
            print("async:", [a.choices[0].message.content for a in answers][:3], "...")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blue", default=os.environ.get("TURNOUT_BLUE_URL"), help="blue base URL")
    parser.add_argument("--green", default=os.environ.get("TURNOUT_GREEN_URL"), help="green base URL")
    args = parser.parse_args(argv)
    if not args.blue or not args.green:
        parser.error("give --blue and --green (or TURNOUT_BLUE_URL and TURNOUT_GREEN_URL)")
    sync_demo(args.blue, args.green)
    asyncio.run(async_demo(args.blue, args.green))
    return 0


if __name__ == "__main__":
    sys.exit(main())
