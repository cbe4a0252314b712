"""The class library's tables (RideDetail, Instructor, WorkoutType, Playlist) and a job's tallies.

Every write goes through the step's connection, so it commits with the step's checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ferry.db import Conn
from ferry_peloton_sync.rules import POWER_ZONE_CLASS_TYPE, aired_at, is_power_zone

S = "peloton_sync"
MAX_LINES = 500
"""Per-class lines kept per discipline for the report; the rest are counted ("... and N more")."""


async def known_rides(conn: Conn, ride_ids: Sequence[str]) -> set[str]:
    """The rides among `ride_ids` a sync need not look at again: stored, or checked and passed over."""
    rows = await conn.fetch(
        f"SELECT peloton_ride_id FROM {S}.ride_detail WHERE peloton_ride_id = ANY($1::text[]) "
        f"UNION SELECT peloton_ride_id FROM {S}.passed_over_ride WHERE peloton_ride_id = ANY($1::text[])",
        list(ride_ids))
    return {r["peloton_ride_id"] for r in rows}


async def pass_over(conn: Conn, ride_id: str, discipline: str, reason: str) -> None:
    """Remember a class whose details were fetched only to find it is not to be synced."""
    await conn.execute(f"INSERT INTO {S}.passed_over_ride (peloton_ride_id, fitness_discipline, reason) "
                       "VALUES ($1, $2, $3) ON CONFLICT (peloton_ride_id) DO NOTHING", ride_id, discipline, reason)


_INSTRUCTOR = (
    f"INSERT INTO {S}.instructor (peloton_id, name, first_name, last_name, image_url) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (peloton_id) DO "
)
_INSTRUCTOR_UPDATE = (
    "UPDATE SET name = EXCLUDED.name, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, "
    "image_url = EXCLUDED.image_url, updated_at = now() WHERE (instructor.name, instructor.first_name, "
    "instructor.last_name, instructor.image_url) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.first_name, "
    "EXCLUDED.last_name, EXCLUDED.image_url)"
)
_TYPE = (
    f"INSERT INTO {S}.workout_type (peloton_id, name, fitness_discipline) VALUES ($1, $2, $3) "
    "ON CONFLICT (peloton_id) DO "
)
_TYPE_UPDATE = (
    "UPDATE SET name = EXCLUDED.name, fitness_discipline = EXCLUDED.fitness_discipline, updated_at = now() "
    "WHERE (workout_type.name, workout_type.fitness_discipline) IS DISTINCT FROM "
    "(EXCLUDED.name, EXCLUDED.fitness_discipline)"
)


def _instructor_args(data: Mapping[str, Any]) -> tuple[Any, ...]:
    return (str(data["id"]), str(data.get("name") or ""), data.get("first_name"), data.get("last_name"),
            data.get("image_url"))


async def save_reference(conn: Conn, instructors: Sequence[Mapping[str, Any]],
                         class_types: Sequence[Mapping[str, Any]]) -> None:
    """Upsert a page's instructors and class types, in id order.

    Called in a short transaction of its own, before the page's classes: several pages (of several
    disciplines) stored at once would otherwise lock the same instructor rows in different orders
    and deadlock, or wait on each other for a whole page.
    """
    for data in sorted((i for i in instructors if i.get("id")), key=lambda i: str(i["id"])):
        await conn.execute(_INSTRUCTOR + _INSTRUCTOR_UPDATE, *_instructor_args(data))
    for t in sorted((t for t in class_types if t.get("id") and t.get("name")), key=lambda t: str(t["id"])):
        await conn.execute(_TYPE + _TYPE_UPDATE, str(t["id"]), str(t["name"]), t.get("fitness_discipline"))


async def _instructor(conn: Conn, data: Mapping[str, Any] | None) -> str | None:
    # DO NOTHING: an existing (committed) row is not locked, so concurrent pages never wait here.
    if not data or not data.get("id"):
        return None
    await conn.execute(_INSTRUCTOR + "NOTHING", *_instructor_args(data))
    return str(data["id"])


async def _workout_types(conn: Conn, types: Sequence[Mapping[str, Any]]) -> None:
    for t in sorted((t for t in types if t.get("id") and t.get("name")), key=lambda t: str(t["id"])):
        await conn.execute(_TYPE + "NOTHING", str(t["id"]), str(t["name"]), t.get("fitness_discipline"))


async def save_ride(conn: Conn, listed: Mapping[str, Any], details: Mapping[str, Any]) -> bool:
    """Store a class from its details (and list item); True if created, False if it existed (updated)."""
    ride: dict[str, Any] = {**listed, **(details.get("ride") or {})}
    instructor_id = await _instructor(conn, ride.get("instructor"))  # None when not described
    types = list(details.get("class_types") or [])
    await _workout_types(conn, types)
    stored_types = {str(t["id"]) for t in types if t.get("id") and t.get("name")}
    type_ids = [str(t) for t in ride.get("class_type_ids") or []]
    workout_type = next((t for t in type_ids if t in stored_types), None)
    pz = is_power_zone(ride, details) if ride.get("fitness_discipline") == "cycling" else (
        POWER_ZONE_CLASS_TYPE in type_ids or bool(details.get("is_power_zone_class")))
    metadata = {k: v for k, v in ride.items() if k not in {"instructor", "description"}}
    created = await conn.fetchval(
        f"""INSERT INTO {S}.ride_detail (peloton_ride_id, title, description, duration_seconds, length_seconds,
            fitness_discipline, fitness_discipline_display_name, instructor_id, workout_type_id, class_type_ids,
            equipment_ids, difficulty_estimate, image_url, original_air_time, scheduled_start_time,
            is_power_zone_class, is_ftp_test, segments, metadata)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
        ON CONFLICT (peloton_ride_id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
            duration_seconds = EXCLUDED.duration_seconds, length_seconds = EXCLUDED.length_seconds,
            instructor_id = EXCLUDED.instructor_id, workout_type_id = EXCLUDED.workout_type_id,
            class_type_ids = EXCLUDED.class_type_ids, equipment_ids = EXCLUDED.equipment_ids,
            difficulty_estimate = EXCLUDED.difficulty_estimate, image_url = EXCLUDED.image_url,
            is_power_zone_class = EXCLUDED.is_power_zone_class, segments = EXCLUDED.segments,
            metadata = EXCLUDED.metadata, updated_at = now()
        RETURNING (xmax = 0)""",
        str(ride["id"]), str(ride.get("title") or ""), ride.get("description"), _int(ride.get("duration")),
        _int(ride.get("length")), str(ride.get("fitness_discipline") or ""),
        ride.get("fitness_discipline_display_name"), instructor_id, workout_type, type_ids,
        [str(e) for e in ride.get("equipment_ids") or []], _float(ride.get("difficulty_estimate")),
        ride.get("image_url"), aired_at(ride), _int(ride.get("scheduled_start_time")), pz,
        bool(details.get("is_ftp_test")), details.get("segments"), metadata,
    )
    playlist = details.get("playlist")
    if isinstance(playlist, Mapping):
        await conn.execute(
            f"INSERT INTO {S}.playlist (ride_id, songs, is_top_artists_shown) VALUES ($1, $2, $3) "
            "ON CONFLICT (ride_id) DO UPDATE SET songs = EXCLUDED.songs, "
            "is_top_artists_shown = EXCLUDED.is_top_artists_shown, updated_at = now()",
            str(ride["id"]), list(playlist.get("songs") or []), bool(playlist.get("is_top_artists_shown")),
        )
    return bool(created)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


# -- a job's tallies ------------------------------------------------------------------------------

@dataclass
class Tally:
    pages: int = 0
    fetched: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0

    @property
    def synced(self) -> int:
        return self.created + self.updated

    def plus(self, page: Tally, *, fetched: int) -> Tally:
        """These counts and a page's so far (`fetched`: the classes of it looked at yet)."""
        return Tally(self.pages + page.pages, self.fetched + fetched, self.created + page.created,
                     self.updated + page.updated, self.skipped + page.skipped, self.errors + page.errors)


async def start_job(conn: Conn, job_id: UUID, disciplines: Sequence[str]) -> None:
    for n, d in enumerate(disciplines):
        await conn.execute(f"INSERT INTO {S}.sync_discipline (job_id, discipline, position) VALUES ($1, $2, $3) "
                           "ON CONFLICT DO NOTHING", job_id, d, n)


async def add(conn: Conn, job_id: UUID, discipline: str, tally: Tally, lines: Sequence[str], *,
              done: bool) -> None:
    await conn.execute(
        f"""UPDATE {S}.sync_discipline SET pages = pages + $3, fetched = fetched + $4, created = created + $5,
            updated = updated + $6, skipped = skipped + $7, errors = errors + $8,
            lines = CASE WHEN jsonb_array_length(lines) >= {MAX_LINES} THEN lines
                         ELSE lines || $9::jsonb END,
            done = done OR $10
        WHERE job_id = $1 AND discipline = $2""",
        job_id, discipline, tally.pages, tally.fetched, tally.created, tally.updated, tally.skipped, tally.errors,
        list(lines), done,
    )


async def discipline_so_far(conn: Conn, job_id: UUID, discipline: str) -> Tally:
    row = await conn.fetchrow(f"SELECT pages, fetched, created, updated, skipped, errors FROM {S}.sync_discipline "
                              "WHERE job_id = $1 AND discipline = $2", job_id, discipline)
    return Tally(**dict(row)) if row is not None else Tally()


async def synced_so_far(conn: Conn, job_id: UUID) -> int:
    return int(await conn.fetchval(
        f"SELECT COALESCE(sum(created + updated), 0) FROM {S}.sync_discipline WHERE job_id = $1", job_id) or 0)


async def tallies(conn: Conn, job_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT * FROM {S}.sync_discipline WHERE job_id = $1 ORDER BY position", job_id)
    return [dict(r) for r in rows]
