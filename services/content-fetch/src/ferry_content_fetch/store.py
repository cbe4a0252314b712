"""content-fetch's rows: items (deduplicated on insert), per-source logs, feed validators, trivia tokens."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from ferry.contracts.content_fetch import SourceLog
from ferry.db import Conn, schema_name
from ferry_content_fetch import SERVICE
from ferry_content_fetch.feeds import Headline
from ferry_content_fetch.trivia import Question

S = f'"{schema_name(SERVICE)}"'


async def add_questions(conn: Conn, source: str, job_id: UUID, questions: list[Question]) -> int:
    """Insert the questions not stored yet; how many were new."""
    if not questions:
        return 0
    rows = await conn.fetch(
        f"""INSERT INTO {S}.mcq_questions (question_hash, source, category, type, difficulty, question,
                correct_answer, incorrect_answers, job_id)
            SELECT h, $1, c, t, d, q, a, i::jsonb, $2
            FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                 AS u(h, c, t, d, q, a, i)
            ON CONFLICT (question_hash) DO NOTHING RETURNING 1""",
        source, job_id, [q.hash for q in questions], [q.category for q in questions], [q.type for q in questions],
        [q.difficulty for q in questions], [q.question for q in questions], [q.correct_answer for q in questions],
        [_json(q.incorrect_answers) for q in questions],
    )
    return len(rows)


async def known_questions(conn: Conn, hashes: list[str]) -> set[str]:
    rows = await conn.fetch(f"SELECT question_hash FROM {S}.mcq_questions WHERE question_hash = ANY($1)", hashes)
    return {r["question_hash"] for r in rows}


async def add_headlines(conn: Conn, source: str, job_id: UUID, headlines: list[Headline]) -> int:
    if not headlines:
        return 0
    rows = await conn.fetch(
        f"""INSERT INTO {S}.headlines (source, entry_key, title, link, summary, published_at, job_id)
            SELECT $1, k, t, l, s, p, $2
            FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u(k, t, l, s, p)
            ON CONFLICT (source, entry_key) DO NOTHING RETURNING 1""",
        source, job_id, [h.key for h in headlines], [h.title for h in headlines], [h.link for h in headlines],
        [h.summary for h in headlines], [h.published_at for h in headlines],
    )
    return len(rows)


async def known_headlines(conn: Conn, source: str, keys: list[str]) -> set[str]:
    rows = await conn.fetch(f"SELECT entry_key FROM {S}.headlines WHERE source = $1 AND entry_key = ANY($2)",
                            source, keys)
    return {r["entry_key"] for r in rows}


async def save_log(conn: Conn, job_id: UUID, log: SourceLog) -> None:
    await conn.execute(
        f"""INSERT INTO {S}.source_runs (job_id, source, log) VALUES ($1, $2, $3)
            ON CONFLICT (job_id, source) DO UPDATE SET log = EXCLUDED.log""",
        job_id, log.source, log.model_dump(mode="json"),
    )


async def job_logs(conn: Conn, job_id: UUID) -> list[SourceLog]:
    rows = await conn.fetch(f"SELECT log FROM {S}.source_runs WHERE job_id = $1 ORDER BY source", job_id)
    return [SourceLog.model_validate(r["log"]) for r in rows]


async def feed_validators(conn: Conn, source: str, url: str) -> tuple[str | None, str | None]:
    row = await conn.fetchrow(f"SELECT etag, last_modified FROM {S}.feed_validators WHERE source = $1 AND url = $2",
                              source, url)
    return (row["etag"], row["last_modified"]) if row else (None, None)


async def save_feed_validators(conn: Conn, source: str, url: str, etag: str | None, last_modified: str | None) -> None:
    await conn.execute(
        f"""INSERT INTO {S}.feed_validators (source, url, etag, last_modified) VALUES ($1, $2, $3, $4)
            ON CONFLICT (source) DO UPDATE SET url = $2, etag = $3, last_modified = $4, updated_at = now()""",
        source, url, etag, last_modified,
    )


async def trivia_token(conn: Conn, source: str) -> str | None:
    value: Any = await conn.fetchval(
        f"UPDATE {S}.trivia_tokens SET last_used_at = now() WHERE source = $1 RETURNING token", source)
    return str(value) if value else None


async def save_trivia_token(conn: Conn, source: str, token: str) -> None:
    await conn.execute(
        f"""INSERT INTO {S}.trivia_tokens (source, token) VALUES ($1, $2)
            ON CONFLICT (source) DO UPDATE SET token = $2, last_used_at = now()""", source, token)


def _json(value: Any) -> str:
    return json.dumps(value)
