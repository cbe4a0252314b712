"""The Peloton sandbox's catalogue: archived classes generated from a seed, newest first.

Every class is a pure function of (seed, discipline, index), index 0 being the newest, so the
catalogue is the same on every run and machine. Each class also knows what it is (`kind`), which
the API never shows: tests compare what the sync stored with what the catalogue says it should.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

POWER_ZONE = "665395ff3abf4081bf315686227d1a51"
CLASS_TYPES = {
    "cycling": [(POWER_ZONE, "Power Zone"), ("7579b9edbdf9464fa19eb58193897a73", "Climb"),
                ("59a49f882ea9475faa3110d50a8fb3f3", "Intervals"), ("9f9be657134e4d868d76ae4988da01b0", "Music"),
                ("bf6639f2e50a4f0395cb1479542ed4bd", "Warm Up/Cool Down")],
    "running": [("9a7f5a1a2b8b4b4c8d3e6c8f1a2b3c4d", "Endurance"), ("4228e9e57bf64c518d58a1d0181760c4", "Intervals"),
                ("f10471dcd6a34e4f8a4e1d7b5e3c2a10", "Warm Up/Cool Down")],
}
INSTRUCTORS = [
    ("a8c56f162c964e9392568bc13828a3fb", "Matt", "Wilpers"), ("731d7b7f6b414a4989fcbd3b6ec8b8b1", "Denis", "Morton"),
    ("c9fa21c2004c4544a7c35c28a6196c77", "Olivia", "Amato"), ("9e9e2ad8a6c34a36b2bc1d22a5b6c9d0", "Becs", "Gentry"),
    ("05735e106f0747d2a112e0a7ecd95a26", "Jess", "Sims"),
]
# (weight, kind, title pattern, duration min, class type index)
CYCLING = [
    (5, "pz_type", "{m} min Power Zone Endurance Ride", (30, 45, 60), 0),
    (3, "pz_type", "{m} min PZ Max Ride", (20, 30, 45), 0),
    (2, "pz_title", "{m} min Power Zone Ride", (20, 30), 2),   # PZ by its title only
    (1, "pz_type", "{m} min FTP Builder", (30, 45), 0),        # PZ by its class type only
    # PZ by its details' is_power_zone_class only. Peloton tags its PZ rides in the list; this class
    # checks the seed's third rule (the details' flag), which a sync can only learn from the details.
    (1, "pz_details", "{m} min Sweat Steady Ride", (30, 45), 2),
    (6, "other", "{m} min Pop Ride", (20, 30, 45), 3),
    (4, "other", "{m} min Climb Ride", (30, 45), 1),
    (2, "other", "{m} min Tabata Ride", (20, 30), 2),
    (1, "other", "{m} min Pizza Party Ride", (20, 30), 3),     # "pz"-ish letters, not Power Zone
    (2, "warm_up", "{m} min Warm Up Ride", (5, 10), 4),
    (1, "warm_up", "{m} min Power Zone Warm-Up Ride", (5, 10), 0),
    (2, "cool_down", "{m} min Cool Down Ride", (5, 10), 4),
]
RUNNING = [
    (5, "other", "{m} min Endurance Run", (30, 45, 60), 0),
    (4, "other", "{m} min Tempo Run", (20, 30), 1),
    (3, "other", "{m} min Fun Run", (20, 30), 0),
    (2, "warm_up", "{m} min Warm Up Run", (5, 10), 2),
    (2, "cool_down", "{m} min Cooldown Run", (5, 10), 2),
]
OTHER = [(5, "other", "{m} min {d} Class", (10, 20, 30), None), (1, "warm_up", "{m} min {d} Warm Up", (5,), None)]
SONGS = [("Levitating", "Dua Lipa"), ("Blinding Lights", "The Weeknd"), ("Titanium", "David Guetta"),
         ("Mr. Brightside", "The Killers"), ("Dancing Queen", "ABBA"), ("Uptown Funk", "Mark Ronson")]


def _epoch(day: date) -> int:
    return calendar.timegm(day.timetuple())


@dataclass(frozen=True)
class Catalogue:
    """Classes from `first_day` to `last_day` (inclusive), `per_day` a day for each discipline."""

    first_day: date
    last_day: date
    per_day: dict[str, int]
    seed: int = 7

    def count(self, discipline: str) -> int:
        days = (self.last_day - self.first_day).days + 1
        return days * self.per_day.get(discipline, 0)

    def air_time(self, discipline: str, index: int) -> int:
        """Newest first: class `index` aired this many slots before the end of the last day."""
        per = self.per_day[discipline]
        day_end = _epoch(self.last_day) + 86_400
        day, slot = divmod(index, per)
        return day_end - day * 86_400 - (slot + 1) * (86_400 // (per + 1))

    def ride_id(self, discipline: str, index: int) -> str:
        return hashlib.md5(f"{self.seed}:{discipline}:{index}".encode(), usedforsecurity=False).hexdigest()

    @cached_property
    def _by_id(self) -> dict[str, tuple[str, int]]:
        return {self.ride_id(d, i): (d, i) for d in self.per_day for i in range(self.count(d))}

    def find(self, ride_id: str) -> tuple[str, int] | None:
        return self._by_id.get(ride_id)

    def _pick(self, discipline: str, index: int) -> tuple[str, str, int, str | None, random.Random]:
        rng = random.Random(f"{self.seed}:{discipline}:{index}")  # noqa: S311 - repeatable data, not secrets
        table = CYCLING if discipline == "cycling" else RUNNING if discipline == "running" else OTHER
        weights = [row[0] for row in table]
        _, kind, pattern, minutes, type_index = rng.choices(table, weights=weights)[0]
        m = rng.choice(minutes)
        title = pattern.format(m=m, d=discipline.capitalize())
        types = CLASS_TYPES.get(discipline, [])
        type_id = types[type_index][0] if types and type_index is not None else None
        return kind, title, m, type_id, rng

    def kind(self, discipline: str, index: int) -> str:
        """What the class is: pz_type, pz_title, pz_details, other, warm_up or cool_down (hidden from the API)."""
        return self._pick(discipline, index)[0]

    def ride(self, discipline: str, index: int) -> dict[str, Any]:
        """The class as the archived list shows it."""
        _, title, minutes, type_id, rng = self._pick(discipline, index)
        instructor = INSTRUCTORS[rng.randrange(len(INSTRUCTORS))]
        aired = self.air_time(discipline, index)
        return {
            "id": self.ride_id(discipline, index), "title": title,
            "description": f"{title} with {instructor[1]}.", "duration": minutes * 60, "length": minutes * 60 + 40,
            "original_air_time": aired, "scheduled_start_time": aired, "fitness_discipline": discipline,
            "fitness_discipline_display_name": discipline.capitalize(), "instructor_id": instructor[0],
            "class_type_ids": [type_id] if type_id else [], "difficulty_estimate": round(rng.uniform(5, 9), 4),
            "equipment_ids": [], "image_url": f"https://sandbox.invalid/images/{self.ride_id(discipline, index)}.png",
            "content_format": "video", "is_archived": True, "has_closed_captions": True, "language": "english",
        }

    def instructor(self, instructor_id: str) -> dict[str, Any] | None:
        for peloton_id, first, last in INSTRUCTORS:
            if peloton_id == instructor_id:
                return {"id": peloton_id, "name": f"{first} {last}", "first_name": first, "last_name": last,
                        "image_url": f"https://sandbox.invalid/instructors/{peloton_id}.png"}
        return None

    def class_types(self, discipline: str | None = None) -> list[dict[str, Any]]:
        found = []
        for d, types in CLASS_TYPES.items():
            if discipline in (None, d):
                found += [{"id": i, "name": n, "fitness_discipline": d, "is_active": True, "list_order": k}
                          for k, (i, n) in enumerate(types)]
        return found

    def details(self, discipline: str, index: int) -> dict[str, Any]:
        """`/api/ride/{id}/details`: the ride with its instructor, the playlist, segments, class types."""
        ride = self.ride(discipline, index)
        kind = self.kind(discipline, index)
        ride["instructor"] = self.instructor(ride["instructor_id"])
        rng = random.Random(f"{self.seed}:songs:{ride['id']}")  # noqa: S311 - repeatable data
        songs = [
            {"title": t, "index": n, "start_time_offset": n * 210, "album": {"name": f"{t} (Single)"},
             "artists": [{"artist_name": a}]}
            for n, (t, a) in enumerate(rng.sample(SONGS, k=4))
        ]
        types = {t["id"]: t for t in self.class_types(discipline)}
        return {
            "ride": ride,
            "playlist": {"ride_id": ride["id"], "songs": songs, "is_top_artists_shown": False},
            "segments": {"segment_list": [
                {"name": "Warmup", "start_time_offset": 0, "length": 300},
                {"name": "Main", "start_time_offset": 300, "length": ride["duration"] - 300},
            ]},
            "class_types": [types[t] for t in ride["class_type_ids"] if t in types],
            "is_power_zone_class": kind in {"pz_type", "pz_title", "pz_details"}
            or (kind == "warm_up" and "Power Zone" in ride["title"]),
            "is_ftp_test": False,
        }
