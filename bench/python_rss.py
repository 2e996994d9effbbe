"""RSS growth of a Python process sending many chat completions through the turnout package.

    .venv/bin/python bench/python_rss.py --url http://127.0.0.1:PORT/v1 [--requests 1000000]
        [--threads 16] [--mode threads|asyncio]

The requests go in ten equal tenths; VmRSS is read after each. The first tenth is the warm-up;
growth is the last sample minus the first. Prints one JSON line (read by bench/report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import threading
import time

import turnout

MESSAGES = [{"role": "user", "content": "ping"}]


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def environments(url: str) -> dict:
    return {
        "blue": turnout.Environment(url, api_key="sk-bench-blue-0000000000"),
        "green": turnout.Environment(url, api_key="sk-bench-green-000000000"),
        "canary_weight": 10.0,
    }


def run_threads(url: str, total: int, threads: int, samples: list, failed: list) -> None:
    client = turnout.Client(**environments(url))
    tenth = total // 10
    counter = iter(())
    lock = threading.Lock()

    def worker(limit: int) -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None or i >= limit:
                return
            try:
                resp = client.chat.completions.create(
                    model="gpt-4.1", messages=MESSAGES, user=f"user-{i}"
                )
                if resp.choices[0].message.content is None:
                    failed[0] += 1
            except turnout.TurnoutError:
                failed[0] += 1

    done = 0
    for step in range(1, 11):
        limit = step * tenth
        # Each tenth takes exactly its share: a counter value past the limit is put back.
        counter = iter(range(done, total))
        ts = [threading.Thread(target=worker, args=(limit,)) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        done = limit
        gc.collect()
        samples.append({"requests": limit, "rss_kib": rss_kib()})
    client.close()


def run_asyncio(url: str, total: int, concurrency: int, samples: list, failed: list) -> None:
    async def main() -> None:
        client = turnout.AsyncClient(**environments(url))
        tenth = total // 10
        for step in range(1, 11):
            base = (step - 1) * tenth
            queue = iter(range(base, base + tenth))

            async def worker() -> None:
                for i in queue:
                    try:
                        resp = await client.chat.completions.create(
                            model="gpt-4.1", messages=MESSAGES, user=f"user-{i}"
                        )
                        if resp.choices[0].message.content is None:
                            failed[0] += 1
                    except turnout.TurnoutError:
                        failed[0] += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            gc.collect()
            samples.append({"requests": base + tenth, "rss_kib": rss_kib()})
        await client.close()

    asyncio.run(main())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--mode", choices=["threads", "asyncio"], default="threads")
    args = ap.parse_args()
    samples: list = []
    failed = [0]
    start_rss = rss_kib()
    started = time.monotonic()
    if args.mode == "threads":
        run_threads(args.url, args.requests, args.threads, samples, failed)
        concurrency = args.threads
    else:
        run_asyncio(args.url, args.requests, args.concurrency, samples, failed)
        concurrency = args.concurrency
    kib = [s["rss_kib"] for s in samples]
    print(
        json.dumps(
            {
                "mode": "rss",
                "lang": "python",
                "driver": args.mode,
                "requests": args.requests,
                "concurrency": concurrency,
                "failed": failed[0],
                "seconds": time.monotonic() - started,
                "rss_start_kib": start_rss,
                "rss_warm_kib": kib[0],
                "rss_end_kib": kib[-1],
                "rss_max_kib": max(kib),
                "growth_kib": kib[-1] - kib[0],
                "samples": samples,
            }
        )
    )


if __name__ == "__main__":
    main()
