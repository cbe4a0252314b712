"""The sources a job fetches from (FERRY_CONTENT_SOURCES): Open Trivia DB endpoints and RSS/Atom feeds."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from ferry.contracts.content_fetch import ContentType


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TriviaOptions(_Model):
    """The query of an Open Trivia DB source (the API's own parameters)."""

    amount: int = Field(10, ge=1, le=50, description="Questions per fetch (the API allows 1..50).")
    category: int | None = Field(None, ge=1, description="Category id (api_category.php lists them).")
    difficulty: Literal["easy", "medium", "hard"] | None = None
    type: Literal["multiple", "boolean"] | None = None
    encode: Literal["url3986", "base64"] | None = Field(None, description="Encoding asked for; None: HTML entities.")
    use_token: bool = Field(True, description="Use a session token, so the API never repeats a question.")
    min_interval_s: float = Field(
        5.0, ge=0, description="Seconds between requests when the rate-limit settings do not say (the API: 5)."
    )


class FeedOptions(_Model):
    """How a feed is read."""

    max_items: int = Field(200, ge=1, le=10_000, description="Entries taken from one fetch at most.")
    rate: float = Field(2.0, gt=0, description="Requests per second when the rate-limit settings do not say.")


class _Source(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Unique name (in results and logs).")
    url: HttpUrl
    rate_key: str | None = Field(
        None, min_length=1, max_length=300,
        description="The rate limiter's bucket; default `http:<host>`. Set when one host serves sources limited apart.",
    )

    @property
    def key(self) -> str:
        return self.rate_key or f"http:{urlsplit(str(self.url)).netloc}"


class TriviaSource(_Source):
    kind: Literal["opentdb"]
    options: TriviaOptions = Field(default_factory=TriviaOptions)

    @property
    def type(self) -> ContentType:
        return ContentType.MCQ


class FeedSource(_Source):
    kind: Literal["feed"]
    options: FeedOptions = Field(default_factory=FeedOptions)

    @property
    def type(self) -> ContentType:
        return ContentType.CURRENT_AFFAIRS


Source = Annotated[TriviaSource | FeedSource, Field(discriminator="kind")]
