"""Read the service's `GET /metrics` back as Prometheus would: each sample by its name and labels."""
from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Return every sample of a scrape, keyed by (name, sorted label pairs)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scraped(client: Any, **headers: str) -> Samples:
    """Scrape an app under a test client (aiohttp_client) and return its samples."""
    answer = await client.get("/metrics", headers=headers)
    assert answer.status == 200, await answer.text()
    return samples(await answer.text())
