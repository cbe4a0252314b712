"""Generated content for the content sandbox: a trivia question bank and news feed entries.

Deterministic (same seed, same questions and entries on every machine). The texts carry the
characters Open Trivia DB's encodings exist for (quotes, `&`, `<`, accents, non-Latin letters), so a
client that decodes wrongly is caught.
"""

from __future__ import annotations

import base64
import html
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html.entities import codepoint2name
from urllib.parse import quote
from xml.sax.saxutils import escape

CATEGORIES: dict[int, str] = {
    9: "General Knowledge",
    17: "Science & Nature",
    23: "History",
    27: "Animals",
}
DIFFICULTIES = ("easy", "medium", "hard")
_TOPICS = ["the café “Zoë”", "Ångström's rule", "the <b>bold</b> claim", "\"Fish & Chips\"", "Łódź", "東京", "O'Neil"]


@dataclass(frozen=True)
class Question:
    """One question, as Open Trivia DB holds it (plain text; encoded when served)."""

    category: int
    type: str
    difficulty: str
    question: str
    correct_answer: str
    incorrect_answers: tuple[str, ...]

    def encoded(self, encode: str | None) -> dict[str, object]:
        """The question as `api.php` returns it with `encode` (None: HTML entities)."""

        def enc(text: str) -> str:
            if encode == "base64":
                return base64.b64encode(text.encode()).decode()
            if encode == "url3986":
                return quote(text, safe="-_.~")
            if encode == "urlLegacy":
                return quote(text, safe="-_.~").replace("%20", "+")
            return html_entities(text)

        return {
            "type": enc(self.type), "difficulty": enc(self.difficulty), "category": enc(CATEGORIES[self.category]),
            "question": enc(self.question), "correct_answer": enc(self.correct_answer),
            "incorrect_answers": [enc(a) for a in self.incorrect_answers],
        }


def html_entities(text: str) -> str:
    """The API's default encoding, as PHP's htmlentities writes it: `&quot;`, `&#039;`, `&amp;`, `&lt;`, and a
    named entity for every character HTML 4 names (`&eacute;`, `&ldquo;`); others stay as UTF-8."""
    escaped = html.escape(text, quote=True).replace("&#x27;", "&#039;")
    return "".join(f"&{codepoint2name[ord(c)]};" if ord(c) > 127 and ord(c) in codepoint2name else c
                   for c in escaped)


def question_bank(per_category: int = 40, seed: int = 7) -> list[Question]:
    """`per_category` questions in each category, mixed difficulties; every fifth one true/false."""
    dice = random.Random(seed)  # noqa: S311 - demo data, not crypto
    bank: list[Question] = []
    for category, name in CATEGORIES.items():
        for i in range(per_category):
            topic = _TOPICS[(i + category) % len(_TOPICS)]
            difficulty = DIFFICULTIES[dice.randrange(3)]
            if i % 5 == 4:
                truth = dice.random() < 0.5
                bank.append(Question(category, "boolean", difficulty,
                                     f"{name} #{i}: is it true that {topic} is {dice.randrange(10, 99)} years old?",
                                     "True" if truth else "False", ("False" if truth else "True",)))
                continue
            answers = [f"{topic} answer {chr(65 + k)}{i}" for k in range(4)]
            bank.append(Question(category, "multiple", difficulty,
                                 f'{name} #{i}: which of these is {topic}\'s "right" one?',
                                 answers[0], tuple(answers[1:])))
    return bank


@dataclass(frozen=True)
class Entry:
    """One news item of a feed."""

    number: int
    title: str
    link: str
    summary: str
    published: datetime


def feed_entries(name: str, count: int, base_url: str, seed: int = 7) -> list[Entry]:
    """`count` entries of feed `name`, newest first (entry `count - 1` is the newest)."""
    start = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    out = []
    for n in range(count - 1, -1, -1):
        dice = random.Random(f"{seed}:{name}:{n}")  # noqa: S311 - demo data
        out.append(Entry(
            number=n,
            title=f"{name.capitalize()} headline {n}: talks on “item {dice.randrange(1000)}” & more",
            link=f"{base_url}/articles/{name}/{n}",
            summary=f"<p>Report {n} from the {name} desk, with <em>details</em> {dice.randrange(10_000)}.</p>",
            published=start + timedelta(hours=3 * n),
        ))
    return out


def render_rss(name: str, entries: list[Entry], base_url: str, *, guids: bool) -> str:
    """An RSS 2.0 document; with `guids` each item has a `guid` (else only its link identifies it)."""
    items = []
    for e in entries:
        guid = f'<guid isPermaLink="false">{name}-{e.number}</guid>' if guids else ""
        items.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>{guid}"
            f"<description>{escape(e.summary)}</description><pubDate>{format_datetime(e.published)}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(name)} news</title><link>{escape(base_url)}</link><description>Sandbox {escape(name)} feed"
        f"</description>{''.join(items)}</channel></rss>"
    )


def render_atom(name: str, entries: list[Entry], base_url: str) -> str:
    """An Atom 1.0 document; entry ids are tag URIs."""
    updated = (entries[0].published if entries else datetime(2026, 1, 1, tzinfo=UTC)).isoformat()
    items = "".join(
        f"<entry><id>tag:sandbox.ferry,2026:{escape(name)}:{e.number}</id><title>{escape(e.title)}</title>"
        f'<link href="{escape(e.link)}"/><updated>{e.published.isoformat()}</updated>'
        f'<summary type="html">{escape(e.summary)}</summary></entry>'
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(name)} news</title><id>tag:sandbox.ferry,2026:{escape(name)}</id>"
        f'<link href="{escape(base_url)}"/><updated>{updated}</updated>{items}</feed>'
    )


def render_malformed(name: str) -> str:
    """A feed that is not well-formed XML (a mismatched tag): feedparser flags it (`bozo`)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>'
        f"{escape(name)}</title><item><title>Broken <b>headline</title></item></channel></rss>"
    )
