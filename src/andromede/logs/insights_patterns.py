"""Logs Insights' ``pattern``, ``diff`` and ``anomaly`` commands (decision 0186, session 50):
texts clustered into patterns, deterministic and bounded. Pure, no I/O.

A text is split at white space into at most :data:`MAX_TOKENS` tokens (the last one holding
the rest); a token holding a digit is a dynamic token from the start (request ids, times,
codes, addresses: what AWS names as dynamic tokens' examples). Texts of the same length
and first token are compared with the patterns already made, in the order they were made:
one that fits a pattern (each static token equal) counts in it; else the most similar one —
at least half of its tokens equal, Drain's measure — takes it, each differing token becoming
``<*>``; else it starts a pattern. The same events in the same order make the same patterns.

Each pattern keeps its count, per token at most :data:`MAX_VALUES` values with their counts
(``@tokens``' enumerations), per numeric token the mean and spread of its values, and its
counts in :data:`BINS` slices of the query's window (``@visualization``, and what
``anomaly`` reads). ``diff`` then counts the events of the compared window in the patterns
they fit, never changing them; events fitting none make patterns of their own (counted only
there). At most ``max_patterns`` patterns: past that, :class:`QueryTooLarge`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Final

from andromede.logs.insights_functions import Json, Record, Stamp, format_value
from andromede.logs.insights_stats import QueryTooLarge

__all__ = [
    "ANOMALY_FIELDS",
    "BINS",
    "DIFF_FIELDS",
    "MASK",
    "PATTERN_FIELDS",
    "PatternMiner",
    "QueryTooLarge",
]

MASK: Final = "<*>"
MAX_TOKENS: Final = 100  # tokens a text is split into; the last one holds the rest
MAX_VALUES: Final = 5  # values kept per token for @tokens' enumerations
MAX_VALUE_CHARS: Final = 64
BINS: Final = 30  # slices of the query's window counted per pattern
SIMILARITY: Final = 0.5  # share of equal tokens for a text to join a pattern (Drain's)
PATTERN_FIELDS: Final = (
    "@pattern",
    "@ratio",
    "@sampleCount",
    "@severityLabel",
    "@tokens",
    "@visualization",
)
DIFF_FIELDS: Final = ("@previousSampleCount", "@diffSampleCount", "@diffRatio", "@diffStatus")
ANOMALY_FIELDS: Final = ("@anomalyType", "@anomalyDescription")

_DIGIT: Final = re.compile(r"\d")
_SEVERITY: Final = (
    (re.compile(r"\b(?:fatal|critical|crit|error|err|severe|emerg|alert)\b", re.I), "Error"),
    (re.compile(r"\b(?:warn|warning)\b", re.I), "Warning"),
    (re.compile(r"\b(?:info|notice)\b", re.I), "Info"),
    (re.compile(r"\b(?:debug|trace)\b", re.I), "Debug"),
)
_HTTP_STATUS: Final = re.compile(r"[1-5]\d\d")


@dataclass(slots=True)
class _Spread:
    """Welford's running mean and variance of a numeric token, and its extremes."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    highest: float = -math.inf

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)
        self.highest = max(self.highest, value)

    @property
    def deviation(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else 0.0


@dataclass(slots=True)
class _Cluster:
    tokens: list[str]
    order: int
    count: int = 0  # events of the query's window
    previous: int = 0  # events of the compared window (diff)
    values: list[dict[str, int]] = field(default_factory=list)
    spreads: list[_Spread | None] = field(default_factory=list)
    bins: list[int] = field(default_factory=list)

    def fits(self, tokens: list[str]) -> bool:
        return all(p == MASK or p == t for p, t in zip(self.tokens, tokens, strict=True))

    def similarity(self, tokens: list[str]) -> float:
        equal = sum(1 for p, t in zip(self.tokens, tokens, strict=True) if p == t and p != MASK)
        return equal / len(tokens)


def _tokens(text: str) -> tuple[list[str], list[str]]:
    """The text's tokens, and the same with each token holding a digit made ``<*>``."""
    raw = text.split(None, MAX_TOKENS - 1) or [""]
    return raw, [MASK if _DIGIT.search(t) else t for t in raw]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class PatternMiner:
    """The patterns of the texts :meth:`add` was given (and :meth:`add_previous`, for
    ``diff``), answered as rows by :meth:`rows`. ``window`` is the query's range in
    milliseconds, both ends included, for the counts over time."""

    def __init__(self, max_patterns: int, window: tuple[int, int] | None = None) -> None:
        self.max_patterns = max_patterns
        self.window = window
        self.buckets: dict[tuple[int, str], list[_Cluster]] = {}
        self.made = 0
        self.total = 0
        self.previous_total = 0
        self.overall: list[int] = [0] * BINS  # every pattern's counts over time, summed

    def _bin(self, timestamp: int) -> int | None:
        if self.window is None:
            return None
        start, end = self.window
        span = max(end - start + 1, 1)
        return min(max((timestamp - start) * BINS // span, 0), BINS - 1)

    def _new(self, bucket: list[_Cluster], tokens: list[str]) -> _Cluster:
        if self.made >= self.max_patterns:
            raise QueryTooLarge(
                f"The query makes more than {self.max_patterns} patterns; narrow it with "
                "filter or the time range."
            )
        cluster = _Cluster(
            tokens=list(tokens),
            order=self.made,
            values=[{} for _ in tokens],
            spreads=[None] * len(tokens),
            bins=[0] * BINS,
        )
        self.made += 1
        bucket.append(cluster)
        return cluster

    def _place(self, masked: list[str], may_change: bool) -> _Cluster:
        """The pattern the text goes into; ``may_change`` False keeps patterns with events
        of the query's window as they are (a compared window's text similar to one counts in
        it unchanged)."""
        bucket = self.buckets.setdefault((len(masked), masked[0]), [])
        for cluster in bucket:
            if cluster.fits(masked):
                return cluster
        best: _Cluster | None = None
        score = SIMILARITY
        for cluster in bucket:
            similarity = cluster.similarity(masked)
            if similarity >= score and (best is None or similarity > score):
                best, score = cluster, similarity
        if best is None:
            return self._new(bucket, masked)
        if may_change or not best.count:
            best.tokens = [p if p == t else MASK for p, t in zip(best.tokens, masked, strict=True)]
        return best

    def add(self, text: str, timestamp: int) -> None:
        raw, masked = _tokens(text)
        cluster = self._place(masked, may_change=True)
        cluster.count += 1
        self.total += 1
        for position, value in enumerate(raw):
            seen = cluster.values[position]
            value = value[:MAX_VALUE_CHARS]
            if value in seen:
                seen[value] += 1
            elif len(seen) < MAX_VALUES:
                seen[value] = 1
            number = _number(value)
            if number is not None:
                spread = cluster.spreads[position] or _Spread()
                spread.add(number)
                cluster.spreads[position] = spread
        slot = self._bin(timestamp)
        if slot is not None:
            cluster.bins[slot] += 1
            self.overall[slot] += 1

    def add_previous(self, text: str) -> None:
        """A text of ``diff``'s compared window."""
        _, masked = _tokens(text)
        self._place(masked, may_change=False).previous += 1
        self.previous_total += 1

    # Rows.

    def _clusters(self) -> list[_Cluster]:
        return [c for bucket in self.buckets.values() for c in bucket]

    def _row(self, cluster: _Cluster) -> Record:
        row: Record = {
            "@pattern": " ".join(cluster.tokens),
            "@ratio": round(cluster.count / self.total, 4) if self.total else 0,
            "@sampleCount": cluster.count,
            "@tokens": Json(self._token_list(cluster)),
        }
        label = _severity(cluster.tokens)
        if label is not None:
            row["@severityLabel"] = label
        if self.window is not None:
            row["@visualization"] = Json(list(cluster.bins))
        return row

    @staticmethod
    def _token_list(cluster: _Cluster) -> list[object]:
        listed: list[object] = []
        dynamic = 0
        for position, token in enumerate(cluster.tokens):
            if token != MASK:
                listed.append({"isDynamic": False, "tokenString": token})
                continue
            dynamic += 1
            listed.append(
                {
                    "dynamicTokenPosition": dynamic,
                    "isDynamic": True,
                    "tokenString": MASK,
                    "enumerations": dict(cluster.values[position]),
                }
            )
        return listed

    def rows(self, diff: bool = False, anomaly: bool = False) -> list[Record]:
        """A row per pattern, the most frequent first (``diff``: the greatest change first);
        with ``anomaly``, only the unusual ones, each with why."""
        clusters = self._clusters()
        if diff:
            clusters.sort(key=lambda c: (-abs(c.count - c.previous), c.order))
        else:
            clusters = [c for c in clusters if c.count]
            clusters.sort(key=lambda c: (-c.count, c.order))
        rows: list[Record] = []
        for cluster in clusters:
            row = self._row(cluster)
            if diff:
                row.update(self._diff_fields(cluster))
            if anomaly:
                found = self._anomalies(cluster, diff)
                if not found:
                    continue
                row["@anomalyType"] = ",".join(kind for kind, _ in found)
                row["@anomalyDescription"] = "; ".join(why for _, why in found)
            rows.append(row)
        return rows

    def _diff_fields(self, cluster: _Cluster) -> Record:
        ratio = cluster.count / self.total if self.total else 0.0
        before = cluster.previous / self.previous_total if self.previous_total else 0.0
        if not cluster.previous:
            status = "New"
        elif not cluster.count:
            status = "Gone"
        elif cluster.count > cluster.previous:
            status = "Increased"
        elif cluster.count < cluster.previous:
            status = "Decreased"
        else:
            status = "Unchanged"
        return {
            "@previousSampleCount": cluster.previous,
            "@diffSampleCount": cluster.count - cluster.previous,
            "@diffRatio": round(ratio - before, 4),
            "@diffStatus": status,
        }

    def _anomalies(self, cluster: _Cluster, diff: bool) -> list[tuple[str, str]]:
        """The unusual in one pattern, each as (AWS's kind of anomaly, why)."""
        if not cluster.count:
            return []
        found: list[tuple[str, str]] = []
        half = BINS // 2
        if diff and not cluster.previous and self.previous_total:
            found.append(("NewPattern", "not seen in the compared window"))
        elif (
            not diff
            and self.window is not None
            and not any(cluster.bins[:half])
            and any(self.overall[:half])
        ):
            found.append(("NewPattern", "first seen in the second half of the window"))
        if self.window is not None and cluster.count >= 10:
            mean = cluster.count / BINS
            deviation = math.sqrt(sum((b - mean) ** 2 for b in cluster.bins) / BINS)
            peak = max(cluster.bins)
            if deviation and (peak - mean) / deviation >= 3:
                start, end = self.window
                at = start + cluster.bins.index(peak) * (end - start + 1) // BINS
                found.append(
                    (
                        "PatternFrequency",
                        f"{peak} events in the slice from {_time(at)}, {mean:.2f} on average",
                    )
                )
        if diff and cluster.previous and cluster.count >= 2 * cluster.previous + 10:
            found.append(("PatternFrequency", f"{cluster.count} events, {cluster.previous} before"))
        dynamic = 0
        for position, token in enumerate(cluster.tokens):
            if token != MASK:
                continue
            dynamic += 1
            values = cluster.values[position]
            if values and all(_HTTP_STATUS.fullmatch(v) for v in values):
                errors = sorted(v for v in values if v >= "500")
                if errors:
                    found.append(
                        ("HttpErrorCode", f"token {dynamic} holds HTTP {', '.join(errors)}")
                    )
                    continue
            spread = cluster.spreads[position]
            if spread is not None and spread.count >= 10 and spread.deviation:
                score = (spread.highest - spread.mean) / spread.deviation
                if score >= 3:
                    found.append(
                        (
                            "NumericalToken",
                            f"token {dynamic} reached {spread.highest:g}, "
                            f"{spread.mean:.2f} on average",
                        )
                    )
        return found


def _severity(tokens: list[str]) -> str | None:
    text = " ".join(t for t in tokens if t != MASK)
    for pattern, label in _SEVERITY:
        if pattern.search(text):
            return label
    return None


def _time(at: int) -> str:
    return format_value(Stamp(at))
