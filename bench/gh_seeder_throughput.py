"""gh_seeder_throughput: pull requests/s crawled by `gh-seeder seed` against the rate the limits allow.

    uv run python -m bench.gh_seeder_throughput [--pulls 350] [--rate 20] [--burst 5] [--pause 3]

Everything runs as its own process, as deployed: the GitHub sandbox (`ferry-sandbox`, three
accounts, one repository of `--pulls` pull requests), the rate limiter (`ferry-rate-limiter`,
`github:*` at `--rate` requests/s per account with a bucket of `--burst`) and the seeder
(`ferry-gh-seeder`, one token per account), on a vhost and a database of their own.

- FIGURE: pull requests per second, from publishing `gh-seeder.seed --repo bench/crawl` to its
  `completed` event (every pull request stored with its reviews, commits and files).
- CEILING: what the limits allow in that time: each account's bucket (`burst` + `rate` x the time
  it was not paused) summed over the accounts, divided by the requests one pull request took in
  this run (every API request the sandbox saw, divided by the pull requests), per second.

One third of the way in, the sandbox puts one account under a secondary limit for `--pause`
seconds (403 with Retry-After). Also required: `requests_to_paused_account=0`, the requests the
sandbox saw reach an account after its first 403 of a pause and before the pause ended.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from bench._github_bench import Items, arguments, bench_accounts, github_servers, report, sandbox_accounts, timed_job
from ferry.contracts import Command
from ferry.contracts.seeder import SeedOptions

NAME = "gh_seeder_throughput"
REPO = "bench/crawl"
ACCOUNTS = bench_accounts("ann", "ben", "cat")


def sandbox_config(pulls: int) -> dict[str, Any]:
    owner, name = REPO.split("/")
    return {"accounts": sandbox_accounts(ACCOUNTS), "repos": [{"owner": owner, "name": name, "pulls": pulls}]}


async def main(pulls: int, rate: float, burst: int, pause_s: float, replicas: int) -> bool:
    async with github_servers(NAME, sandbox_config(pulls), rate=rate, burst=burst) as servers:
        servers.start("ferry-gh-seeder", replicas, ACCOUNTS)
        expected_s = pulls * 4.2 / (rate * len(ACCOUNTS))
        envelope = Command[SeedOptions](options=SeedOptions(repo=REPO), requested_by="bench")
        run = await timed_job(servers, "gh-seeder", "seed", envelope, pause_s=pause_s, pause_at_s=expected_s / 3,
                              timeout=600)
        found = await servers.requests(ACCOUNTS)
    return report(NAME, run, found, label="crawl", items=Items("pull request", "pull requests", "pull"),
                  expected=pulls, rate=rate, burst=burst, pause_s=pause_s, replicas=replicas)


if __name__ == "__main__":
    parser = arguments(__doc__.splitlines()[0], "--pulls", 350)
    parser.add_argument("--replicas", type=int, default=1, help="seeder processes")
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.pulls, args.rate, args.burst, args.pause, args.replicas)) else 1)
