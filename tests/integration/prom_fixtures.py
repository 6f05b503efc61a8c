"""Reading Prometheus exposition text in tests: prometheus_client's own parser, so a test
checks what a scraper would read, not the text's spelling."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:  # float-ok: metric values
    """Every sample in `text` as (name, labels, value)."""
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def sample(text: str, name: str, **labels: str) -> float | None:  # float-ok: metric values
    """The value of the one sample `name` whose labels include `labels` (None: none)."""
    found = [v for n, have, v in samples(text) if n == name and labels.items() <= have.items()]
    assert len(found) <= 1, f"{len(found)} samples of {name} with {labels}"
    return found[0] if found else None
