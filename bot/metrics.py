"""The service's Prometheus instruments, in a registry of its own per app: every label's values come from a closed set."""
from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# Seconds. Zoom waits 3 s for a webhook's answer; a delivery may wait minutes for its retries.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DELIVERY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class CountedElsewhere(Collector):
    """A counter that a part of the service keeps itself (the frames' queues, the framing analysis), read when scraped."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> None:
        self._name, self._documentation, self._labels = name, documentation, labels
        self._sources: list[tuple[tuple[str, ...], Callable[[], float]]] = []

    def read(self, source: Callable[[], float], *label_values: str) -> None:
        """Scrape `source`'s count from now on, under these label values."""
        self._sources.append((label_values, source))

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labels)
        for label_values, source in self._sources:
            family.add_metric(list(label_values), source())
        yield family


class Metrics:
    """What an operator watches from outside: webhooks, events, notices, deliveries, RTMS streams and frames.

    Labels are platforms, outcomes, notice kinds, channels, states and stages: never a name, a code or an id.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.webhooks = Counter(
            "companion_webhooks", "Webhooks answered, by platform and outcome (accepted, unauthorized, refused, failed).",
            ("platform", "outcome"), registry=registry,
        )
        self.webhook_seconds = Histogram(
            "companion_webhook_ack_seconds", "Time from a webhook's arrival to its answer, by platform.", ("platform",), buckets=ACK_BUCKETS, registry=registry,
        )
        self.evaluation_backlog = Gauge(
            "companion_evaluation_backlog", "Sessions waiting to be judged after their events were acknowledged, or being judged now; read when scraped.",
            registry=registry,
        )
        self.leader = Gauge(
            "companion_leader", "1 while this instance is the leader (it runs the reminders and timers of every instance), else 0; read when scraped.",
            registry=registry,
        )
        self.events_stored = Counter("companion_events_stored", "Meeting events stored (one delivered again is not counted again).", registry=registry)
        self.notices = Counter("companion_notices", "Notices raised for therapists, by kind.", ("kind",), registry=registry)
        self.deliveries = Counter(
            "companion_deliveries", "Deliveries of notices to a channel, by channel and what became of them (sent, failed, coalesced, retried).",
            ("channel", "state"), registry=registry,
        )
        self.delivery_seconds = Histogram(
            "companion_delivery_seconds", "Time from a notice being raised to its delivery being sent, by channel.", ("channel",), buckets=DELIVERY_BUCKETS, registry=registry,
        )
        self.oldest_pending_delivery = Gauge(
            "companion_oldest_pending_delivery_seconds", "How long the oldest delivery still to be sent has waited (0: none waits); read when scraped.", registry=registry,
        )
        self.rtms_streams_open = Gauge("companion_rtms_streams_open", "Zoom RTMS streams connected now.", registry=registry)
        self.rtms_streams_owned = Gauge(
            "companion_rtms_streams_owned", "Zoom RTMS streams whose lease this instance holds (it alone connects to them).", registry=registry,
        )
        self.rtms_streams_refused = Counter(
            "companion_rtms_streams_refused", "Zoom RTMS streams not opened because [zoom] rtms_max_streams were open or opening.", registry=registry,
        )
        self.rtms_reconnects = Counter("companion_rtms_reconnects", "Zoom RTMS connection attempts after a stream's first.", registry=registry)
        self.frames_analysed = CountedElsewhere("companion_frames_analysed", "Video frames the framing analysis looked at.")
        self.frames_dropped = CountedElsewhere(
            "companion_frames_dropped", "Video frames dropped, by stage: queue (a sink lagged) or analysis (busy, loading, too slow).", ("stage",),
        )
        registry.register(self.frames_analysed)
        registry.register(self.frames_dropped)
        self._webhook_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def webhook_answered(self, platform: str, outcome: str) -> tuple[Counter, Histogram]:
        """Return the webhook counter's child for this platform and outcome, and the timer's for the platform.

        Looked up once each: `labels()` costs more than the count itself, and a child stays its labels' until
        removed (nothing here removes one).
        """
        children = self._webhook_children.get((platform, outcome))
        if children is None:
            children = self._webhook_children[(platform, outcome)] = (self.webhooks.labels(platform, outcome), self.webhook_seconds.labels(platform))
        return children

    def scrape(self) -> bytes:
        """Return every metric in Prometheus' text format."""
        return generate_latest(self.registry)
