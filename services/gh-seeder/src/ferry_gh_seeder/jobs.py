"""`gh-seeder.seed` as a job handler (`SeedJob`).

A crawl is cut into steps on the service's work queue, so every replica shares it:

    plan      resolve the repositories, read a --checkpoint-file, one `page` step per repository
    page      list one page of pull requests (all states, newest first, 100 a page); record them;
              one `pr` step per pull request not fetched yet (the others count as skipped), and a
              `page` step for the next page (the Link header's rel=next URL)
    pr        fetch the pull request, its reviews, commits and files; store them and mark it
              fetched in the step's own transaction, which commits with the step's checkpoint

A crash, a redelivery or a new job for the same repository therefore never fetches a completed
pull request again. A rate limit longer than a few seconds parks the step (RetryLater) instead of
holding a delivery; one pull request's failure is counted and reported and the job carries on. The
job's last step (the only step still open) writes the summary and the final checkpoint files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from ferry.contracts.seeder import SeedOptions
from ferry.github.errors import GitHubError, NoUsableTokens, RateLimitWaitTooLong
from ferry.jobs.errors import JobFailed, RetryLater
from ferry.jobs.model import ItemFailure, Step, StepResult
from ferry.jobs.store import JobStore
from ferry_gh_seeder import SERVICE, files, store
from ferry_gh_seeder.errors import CheckpointInvalid, UnknownProject
from ferry_gh_seeder.resources import Resources
from ferry_gh_seeder.settings import SeederSettings
from ferry_gh_seeder.source import DroppedToken, PullSource

COUNTS = ("found", "already_fetched", "fetched", "failed", "reviews", "commits", "files", "requests")


def resolve_repos(options: SeedOptions, projects: dict[str, list[str]]) -> list[str]:
    """The repositories a job crawls: its --repo, or its --project's preset."""
    if options.repo is not None:
        return [options.repo]
    assert options.project is not None
    repos = projects.get(options.project) or projects.get(options.project.lower())
    if not repos:
        known = ", ".join(sorted(projects)) or "(none configured)"
        raise UnknownProject(f"unknown project {options.project!r}; FERRY_GH_SEEDER_PROJECTS has: {known}")
    return list(dict.fromkeys(repos))


def within_limits(
    items: list[dict[str, Any]], listed: int, *, since: datetime | None, max_prs: int | None
) -> tuple[list[dict[str, Any]], bool]:
    """A page's pull requests (newest first) created since `since`, up to `max_prs` per repository
    counting the `listed` ones of earlier pages; False when the listing ends with this page."""
    kept, more = list(items), True
    if since is not None:
        kept = [p for p in kept if datetime.fromisoformat(str(p["created_at"])) >= since]
        more = len(kept) == len(items)  # one older pull request means every later one is older too
    if max_prs is not None:
        room = max(0, max_prs - listed)
        more = more and len(kept) < room
        kept = kept[:room]
    return kept, more


def _dropped(tokens: list[DroppedToken]) -> list[ItemFailure]:
    return [
        ItemFailure(
            f"GitHub refused {t.label}{f' (account {t.login})' if t.login else ''}: {t.reason}; it left the pool "
            f"and the crawl carries on with {t.tokens_left} token(s)",
            item=t.label,
            detail={"error": "bad_credentials", "account": t.login, "tokens_left": t.tokens_left},
        )
        for t in tokens
    ]


class SeedJob:
    """`gh-seeder.seed`: crawl pull requests with reviews, commits and files, resumably."""

    command = "seed"
    options_model = SeedOptions

    def __init__(self, settings: SeederSettings, pool: asyncpg.Pool, resources: Resources) -> None:
        self.settings = settings
        self.resources = resources
        self.jobs = JobStore(SERVICE)
        self.files = files.CheckpointFiles(
            settings.gh_seeder_checkpoint_dir, pool, settings.gh_seeder_checkpoint_every_s)
        self._running: dict[int, Step[SeedOptions]] = {}
        resources.on_waiting.append(self._limiter_waiting)

    async def aclose(self) -> None:
        """Called by the service at shutdown: close the HTTP client and the limiter connection."""
        await self.resources.aclose()

    async def run_step(self, step: Step[SeedOptions]) -> StepResult:
        if step.is_plan:
            return await self._plan(step)
        kind = step.payload.get("kind")
        self._running[id(step)] = step
        try:
            if kind == "page":
                result = await self._page(step)
            elif kind == "pr":
                result = await self._pull(step)
            else:
                raise JobFailed(f"unknown seed step {step.payload!r}")
        finally:
            self._running.pop(id(step), None)
        if not result.children and await self._is_last(step):
            await self._finish(step, result)
        return result

    def _limiter_waiting(self, waiting: bool) -> None:
        """Say so in the running steps' heartbeats while the rate limiter does not answer."""
        for step in self._running.values():
            step.status = "waiting for the rate limiter" if waiting else ""

    # -- plan -------------------------------------------------------------------------------
    async def _plan(self, step: Step[SeedOptions]) -> StepResult:
        opts, conn = step.options, step.conn
        try:
            repos = resolve_repos(opts, self.settings.gh_seeder_projects)
            listed = self.files.read(opts.checkpoint_file, repos) if opts.checkpoint_file else {r: [] for r in repos}
            if opts.checkpoint_file and not opts.dry_run:
                self.files.check_writable(opts.checkpoint_file)
        except (UnknownProject, CheckpointInvalid) as exc:
            raise JobFailed(str(exc)) from exc
        preloaded = 0
        for repo in repos:
            await store.start_repo(conn, step.job_id, repo, listed[repo])
            if not opts.dry_run:
                preloaded += await store.mark_fetched(conn, repo, listed[repo], step.job_id, "checkpoint-file")
        since = datetime.now(UTC) - timedelta(days=opts.days_back) if opts.days_back else None
        data: dict[str, Any] = {
            "repos": repos, "project": opts.project, "dry_run": opts.dry_run, "checkpoint_file": opts.checkpoint_file,
            "max_prs": opts.max_prs, "created_since": since.isoformat() if since else None,
            "from_checkpoint_file": sum(len(n) for n in listed.values()), "marked_from_checkpoint_file": preloaded,
        }
        children = [{"kind": "page", "repo": r, "url": None, "page": 1, "listed": 0} for r in repos]
        what = f"project {opts.project} ({', '.join(repos)})" if opts.project else repos[0]
        message = f"Seeding pull requests of {what}"
        if data["from_checkpoint_file"]:
            message += f"; {data['from_checkpoint_file']:,} already fetched per {opts.checkpoint_file}"
        if opts.dry_run:
            message = "DRY RUN MODE - nothing will be fetched or stored. " + message
        return StepResult(total=0, data=data, children=children, message=message)

    # -- one page of the listing ------------------------------------------------------------
    async def _page(self, step: Step[SeedOptions]) -> StepResult:
        opts, conn, payload = step.options, step.conn, step.payload
        repo, number, listed = str(payload["repo"]), int(payload["page"]), int(payload["listed"])
        step.status = f"listing page {number} of {repo}"
        source = await self._source()
        try:
            page = await source.list_page(repo, payload.get("url"))
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key} while listing {repo}") from exc
        except NoUsableTokens as exc:
            raise JobFailed(str(exc)) from exc
        except GitHubError as exc:  # this repository's listing ends here; the others carry on
            await store.count_listing(conn, step.job_id, repo, found=0, already=0, last=True)
            await store.count_fetch(conn, step.job_id, repo, failed=1)
            item = f"{repo} page {number}"
            failure = ItemFailure(f"cannot list pull requests of {repo} (page {number}): {exc}", item=item,
                                  detail={"error": type(exc).__name__, "status": getattr(exc, "status", None)})
            return StepResult(add_total=1, failed=1, failures=[failure, *_dropped(source.take_dropped())],
                              message=f"Failed to list {item}")
        since = step.data.get("created_since")
        pulls, more = within_limits(
            page.items, listed, since=datetime.fromisoformat(since) if since else None, max_prs=opts.max_prs
        )
        numbers = [int(p["number"]) for p in pulls]
        done = await store.fetched_among(conn, repo, numbers) | await store.from_file(conn, step.job_id, repo)
        already = [n for n in numbers if n in done]
        todo = [n for n in numbers if n not in done]
        has_next = more and page.next_url is not None
        children: list[dict[str, Any]] = []
        if has_next:  # first, so the listing runs ahead of the fetching and the total is known early
            children.append({"kind": "page", "repo": repo, "url": page.next_url, "page": number + 1,
                             "listed": listed + len(pulls)})
        if not opts.dry_run:
            await store.record_listed(conn, repo, pulls)
            children += [{"kind": "pr", "repo": repo, "number": n} for n in todo]
        await store.count_listing(conn, step.job_id, repo, found=len(pulls), already=len(already), last=not has_next)
        await store.count_fetch(conn, step.job_id, repo, requests=page.requests)
        if opts.dry_run:
            message = f"DRY RUN: page {number} of {repo}: {len(pulls)} pull requests, {len(todo)} would be fetched"
        else:
            message = f"Listed page {number} of {repo}: {len(pulls)} pull requests, {len(already)} already fetched"
        return StepResult(
            add_total=len(pulls), skipped=len(already) + (len(todo) if opts.dry_run else 0), children=children,
            message=message, failures=_dropped(source.take_dropped()),
        )

    # -- one pull request -------------------------------------------------------------------
    async def _pull(self, step: Step[SeedOptions]) -> StepResult:
        conn, repo, number = step.conn, str(step.payload["repo"]), int(step.payload["number"])
        item = f"{repo}#{number}"
        if await store.lock_pull(conn, repo, number):
            await store.count_fetch(conn, step.job_id, repo, already=1)
            return StepResult(skipped=1, message=f"{item} already fetched")
        step.status = f"fetching {item}"
        source = await self._source()
        try:
            data = await source.pull(repo, number)
        except RateLimitWaitTooLong as exc:
            raise RetryLater(exc.wait_s, f"rate limit on {exc.key} while fetching {item}") from exc
        except NoUsableTokens as exc:
            raise JobFailed(str(exc)) from exc
        except GitHubError as exc:
            return await self._failed(step, repo, item, exc, source)
        try:
            async with conn.transaction():  # a savepoint: bad data fails this item only
                await store.store_pull(conn, repo, data.pull, data.reviews, data.commits, data.files, step.job_id)
        except asyncpg.DataError as exc:
            return await self._failed(step, repo, item, exc, source)
        await store.count_fetch(
            conn, step.job_id, repo, fetched=1, reviews=len(data.reviews), commits=len(data.commits),
            files=len(data.files), requests=data.requests,
        )
        if step.options.checkpoint_file:
            await self.files.maybe_write(step.options.checkpoint_file, list(step.data["repos"]))
        return StepResult(
            succeeded=1, failures=_dropped(source.take_dropped()),
            message=f"Fetched {item}: {len(data.reviews)} reviews, {len(data.commits)} commits, "
            f"{len(data.files)} files",
        )

    async def _failed(
        self, step: Step[SeedOptions], repo: str, item: str, exc: Exception, source: PullSource
    ) -> StepResult:
        await store.count_fetch(step.conn, step.job_id, repo, failed=1)
        status = getattr(exc, "status", None)
        failure = ItemFailure(f"{item}: {exc}", item=item, detail={"error": type(exc).__name__, "status": status})
        return StepResult(failed=1, failures=[failure, *_dropped(source.take_dropped())],
                          message=f"Failed to fetch {item}")

    async def _source(self) -> PullSource:
        try:
            return await self.resources.source()
        except NoUsableTokens as exc:
            raise JobFailed(str(exc)) from exc

    # -- the end ----------------------------------------------------------------------------
    async def _is_last(self, step: Step[SeedOptions]) -> bool:
        """Whether no other step of the job is open (so this one ends it).

        The job's row is locked first, as every step's commit does: two steps finishing at
        once are serialised, and the second sees the first as done.
        """
        await self.jobs.get(step.conn, step.job_id, lock=True)
        return await self.jobs.open_steps(step.conn, step.job_id) == [step.step_no]

    async def _finish(self, step: Step[SeedOptions], result: StepResult) -> None:
        rows = await store.job_repos(step.conn, step.job_id)
        per_repo = {r["repo"]: {k: r[k] for k in (*COUNTS, "pages", "from_file")} for r in rows}
        totals = {k: sum(int(r[k]) for r in rows) for k in COUNTS}
        result.data.update(repos_summary=per_repo, **totals)
        base = step.options.checkpoint_file
        if base and not step.options.dry_run:
            completed = {r["repo"]: bool(r["listed"]) and r["failed"] == 0 for r in rows}
            try:
                await self.files.write(step.conn, base, list(step.data["repos"]), completed=completed)
                result.data["checkpoint_completed"] = all(completed.values())
            except OSError as exc:
                result.failures.append(ItemFailure(f"cannot write checkpoint file {base}: {exc}", item=base))

    def summary_line(self, job: dict[str, Any]) -> str:
        data = job.get("data") or {}
        repos = data.get("repos") or []
        found = int(data.get("found", job.get("total") or 0))
        where = f"{len(repos)} repositories" if len(repos) != 1 else repos[0]
        if data.get("dry_run"):
            todo = found - int(data.get("already_fetched", 0))
            return f"DRY RUN MODE - nothing fetched: {found:,} pull requests in {where}, {todo:,} would be fetched"
        return (
            f"Seeded {where}: {found:,} pull requests found, {int(job.get('succeeded') or 0):,} fetched, "
            f"{int(job.get('skipped') or 0):,} already fetched, {int(job.get('failed') or 0):,} failed "
            f"({int(data.get('reviews', 0)):,} reviews, {int(data.get('commits', 0)):,} commits, "
            f"{int(data.get('files', 0)):,} files)"
        )
