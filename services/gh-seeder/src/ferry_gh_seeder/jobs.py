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
job's end (`on_job_end`, called once by the runtime) writes the summary and the final checkpoint files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from pydantic import Field

from ferry.contracts import JobStatus
from ferry.contracts.seeder import SeedOptions
from ferry.github.errors import GitHubError, NoUsableTokens, RateLimitWaitTooLong
from ferry.jobs import (
    FinishedJob,
    ItemFailure,
    JobData,
    JobFailed,
    JobHandler,
    JobSummary,
    Plan,
    RetryLater,
    Step,
    StepPayload,
    StepResult,
)
from ferry_gh_seeder import files, store
from ferry_gh_seeder.errors import CheckpointInvalid, UnknownProject
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


class Page(StepPayload):
    """List one page of a repository's pull requests."""

    kind: Literal["page"] = "page"
    repo: str
    url: str | None = Field(None, description="The page's URL (a Link rel=next); None for the first page.")
    page: int = Field(1, ge=1)
    listed: int = Field(0, ge=0, description="Pull requests kept from the earlier pages.")


class Pull(StepPayload):
    """Fetch one pull request with its reviews, commits and files."""

    kind: Literal["pr"] = "pr"
    repo: str
    number: int


SeedStep = Annotated[Page | Pull, Field(discriminator="kind")]


class SeedData(JobData):
    """What a seed job crawls and found (the job's result)."""

    repos: list[str] = Field(default_factory=list)
    project: str | None = None
    dry_run: bool = False
    checkpoint_file: str | None = None
    max_prs: int | None = None
    created_since: datetime | None = None
    from_checkpoint_file: int = 0
    marked_from_checkpoint_file: int = 0
    repos_summary: dict[str, dict[str, int]] | None = None
    checkpoint_completed: bool | None = None
    found: int = 0
    already_fetched: int = 0
    fetched: int = 0
    failed: int = 0
    reviews: int = 0
    commits: int = 0
    files: int = 0
    requests: int = 0


Result = StepResult[Page | Pull, SeedData]


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


class SeedJob(JobHandler[SeedOptions, Page | Pull, SeedData]):
    """`gh-seeder.seed`: crawl pull requests with reviews, commits and files, resumably."""

    command = "seed"
    options_model = SeedOptions
    step_model = SeedStep
    data_model = SeedData

    def __init__(self, settings: SeederSettings, pool: asyncpg.Pool, source: PullSource) -> None:
        self.settings = settings
        self.source = source
        self.files = files.CheckpointFiles(
            settings.gh_seeder_checkpoint_dir, pool, settings.gh_seeder_checkpoint_every_s)

    async def run_step(self, step: Step[SeedOptions, Page | Pull, SeedData]) -> Result:
        if isinstance(step.payload, Page):
            return await self._page(step, step.payload)
        return await self._pull(step, step.payload)

    # -- plan -------------------------------------------------------------------------------
    async def plan(self, step: Step[SeedOptions, Plan, SeedData]) -> Result:
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
        data = SeedData(
            repos=repos, project=opts.project, dry_run=opts.dry_run, checkpoint_file=opts.checkpoint_file,
            max_prs=opts.max_prs, created_since=since,
            from_checkpoint_file=sum(len(n) for n in listed.values()), marked_from_checkpoint_file=preloaded,
        )
        children: list[Page | Pull] = [Page(repo=r) for r in repos]
        what = f"project {opts.project} ({', '.join(repos)})" if opts.project else repos[0]
        message = f"Seeding pull requests of {what}"
        if data.from_checkpoint_file:
            message += f"; {data.from_checkpoint_file:,} already fetched per {opts.checkpoint_file}"
        if opts.dry_run:
            message = "DRY RUN MODE - nothing will be fetched or stored. " + message
        return StepResult(total=0, data=data, children=children, message=message)

    # -- one page of the listing ------------------------------------------------------------
    async def _page(self, step: Step[SeedOptions, Page | Pull, SeedData], todo: Page) -> Result:
        opts, conn = step.options, step.conn
        repo, number, listed = todo.repo, todo.page, todo.listed
        step.status = f"listing page {number} of {repo}"
        source = self.source
        try:
            page = await source.list_page(repo, todo.url)
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
        pulls, more = within_limits(page.items, listed, since=step.data.created_since, max_prs=opts.max_prs)
        numbers = [int(p["number"]) for p in pulls]
        done = await store.fetched_among(conn, repo, numbers) | await store.from_file(conn, step.job_id, repo)
        already = [n for n in numbers if n in done]
        to_fetch = [n for n in numbers if n not in done]
        has_next = more and page.next_url is not None
        children: list[Page | Pull] = []
        if has_next:  # first, so the listing runs ahead of the fetching and the total is known early
            children.append(Page(repo=repo, url=page.next_url, page=number + 1, listed=listed + len(pulls)))
        if not opts.dry_run:
            await store.record_listed(conn, repo, pulls)
            children += [Pull(repo=repo, number=n) for n in to_fetch]
        await store.count_listing(conn, step.job_id, repo, found=len(pulls), already=len(already), last=not has_next)
        await store.count_fetch(conn, step.job_id, repo, requests=page.requests)
        if opts.dry_run:
            message = f"DRY RUN: page {number} of {repo}: {len(pulls)} pull requests, {len(to_fetch)} would be fetched"
        else:
            message = f"Listed page {number} of {repo}: {len(pulls)} pull requests, {len(already)} already fetched"
        return StepResult(
            add_total=len(pulls), skipped=len(already) + (len(to_fetch) if opts.dry_run else 0), children=children,
            message=message, failures=_dropped(source.take_dropped()),
        )

    # -- one pull request -------------------------------------------------------------------
    async def _pull(self, step: Step[SeedOptions, Page | Pull, SeedData], todo: Pull) -> Result:
        conn, repo, number = step.conn, todo.repo, todo.number
        item = f"{repo}#{number}"
        if await store.lock_pull(conn, repo, number):
            await store.count_fetch(conn, step.job_id, repo, already=1)
            return StepResult(skipped=1, message=f"{item} already fetched")
        step.status = f"fetching {item}"
        source = self.source
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
            await self.files.maybe_write(step.options.checkpoint_file, step.data.repos)
        return StepResult(
            succeeded=1, failures=_dropped(source.take_dropped()),
            message=f"Fetched {item}: {len(data.reviews)} reviews, {len(data.commits)} commits, "
            f"{len(data.files)} files",
        )

    async def _failed(
        self, step: Step[SeedOptions, Page | Pull, SeedData], repo: str, item: str, exc: Exception, source: PullSource
    ) -> Result:
        await store.count_fetch(step.conn, step.job_id, repo, failed=1)
        status = getattr(exc, "status", None)
        failure = ItemFailure(f"{item}: {exc}", item=item, detail={"error": type(exc).__name__, "status": status})
        return StepResult(failed=1, failures=[failure, *_dropped(source.take_dropped())],
                          message=f"Failed to fetch {item}")

    # -- the end ----------------------------------------------------------------------------
    async def on_job_end(self, job: FinishedJob[SeedOptions, SeedData]) -> JobSummary[SeedData]:
        """The summary from the per-repository counts, and the final checkpoint files."""
        rows = await store.job_repos(job.conn, job.job_id)
        per_repo = {r["repo"]: {k: int(r[k]) for k in (*COUNTS, "pages", "from_file")} for r in rows}
        totals = {k: sum(int(r[k]) for r in rows) for k in COUNTS}
        data = job.data.model_copy(update={"repos_summary": per_repo, **totals})
        failures: list[ItemFailure] = []
        base = job.options.checkpoint_file if job.options else None
        if base and job.options and not job.options.dry_run:
            completed = {r["repo"]: bool(r["listed"]) and r["failed"] == 0 for r in rows}
            try:
                await self.files.write(job.conn, base, data.repos, completed=completed)
                data = data.model_copy(update={"checkpoint_completed": all(completed.values())})
            except OSError as exc:
                failures.append(ItemFailure(f"cannot write checkpoint file {base}: {exc}", item=base))
        if job.state is not JobStatus.COMPLETED:
            return JobSummary(job.error or job.state.value, data, failures)
        return JobSummary(self._summary_line(job, data), data, failures)

    @staticmethod
    def _summary_line(job: FinishedJob[SeedOptions, SeedData], data: SeedData) -> str:
        found = data.found or job.total or 0
        where = f"{len(data.repos)} repositories" if len(data.repos) != 1 else data.repos[0]
        if data.dry_run:
            todo = found - data.already_fetched
            return f"DRY RUN MODE - nothing fetched: {found:,} pull requests in {where}, {todo:,} would be fetched"
        return (
            f"Seeded {where}: {found:,} pull requests found, {job.succeeded:,} fetched, "
            f"{job.skipped:,} already fetched, {job.failed:,} failed "
            f"({data.reviews:,} reviews, {data.commits:,} commits, {data.files:,} files)"
        )
