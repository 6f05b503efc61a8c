"""Alerts of a scheduled run: what to raise, and the webhook that carries them.

Where it sits: after a run is stored (verifier/history/schedule.py). `alerts_for` compares the
run with the previous successful one and lists what a human should hear about:

- ``failure``: the run failed (node down, bad input, database...), with its error;
- ``shortfall``: an asset is not covered, or the reserve is below its requirement;
- ``threshold``: any other breach of the verdict (combined ratio, a rule-pack check);
- ``drift``: an asset's coverage ratio fell by more than the drift threshold since the
  previous successful run;
- ``stress``: a ``[stress]`` scenario leaves a customer short in this run while its latest
  earlier outcome made everyone whole, or it has none (silent while it stays short);
- ``stress_error``: the scenario file, or one scenario, could not be evaluated, and the
  previous run with scenario outcomes did not already say so (`stress_alerts`).

`Webhook.send` POSTs one JSON document per run with a timeout per attempt and retries
with exponential backoff on a connection error or a 5xx/429 answer (the one policy of
`chains.retry`; each retry is a WARNING record, the URL masked). A webhook that cannot
be reached never changes the run's exit code; it is logged. The document's shape is
chosen by ``[alerts] format`` (or ``--alert-format``), see `render_payload`:

- ``generic``: ``por-alert-v1`` (docs/spec/por-alert-v1.md);
- ``alertmanager``: the list of postable alerts Alertmanager's ``POST /api/v2/alerts``
  takes (labels ``alertname``, ``severity``, ``exchange``, ``attestation``, ``subject``
  and ``asset`` when the subject is one; annotations ``summary`` and ``description``;
  ``startsAt``);
- ``slack``: a Slack incoming-webhook message (``text`` and Block Kit ``blocks``).

No payload carries a secret: run errors are stored masked and are masked again here, and
the Slack and Alertmanager shapes name no database.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chains.retry import Failure, RetryPolicy, classify_webhook
from verifier.base.errors import InputError
from verifier.base.logs import mask
from verifier.base.redact import mask_url
from verifier.history.records import RunRecord, StressHistory
from verifier.report.figures import money

if TYPE_CHECKING:
    from verifier.jobs.stress_run import StressOutcome

log = logging.getLogger(__name__)

ALERT_FORMAT = "por-alert-v1"
FORMATS = ("generic", "alertmanager", "slack")
"""The payload shapes of `render_payload` ([alerts] format, --alert-format)."""
ALERTNAMES = {
    "failure": ("PorRunFailed", "critical"),
    "shortfall": ("PorShortfall", "critical"),
    "threshold": ("PorThresholdBreached", "warning"),
    "drift": ("PorCoverageDrift", "warning"),
    "stress": ("PorStressScenarioShort", "warning"),
    "stress_error": ("PorStressScenarioError", "warning"),
}
"""Alert kind -> Alertmanager ``alertname`` and ``severity``."""
SLACK_MAX_BLOCKS = 50
"""Slack refuses a message with more blocks than this."""


@dataclass(frozen=True)
class Alert:
    kind: str
    """failure | shortfall | threshold | drift | stress | stress_error"""
    subject: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


def parse_drift(value: str | None) -> Decimal | None:
    """A drift threshold: a coverage-ratio fall such as ``"0.05"`` (5 percentage points)."""
    if value is None or value == "":
        return None
    text = value.strip()
    scale = Decimal(1)
    if text.endswith("%"):
        text, scale = text[:-1], Decimal("0.01")
    try:
        drift = Decimal(text) * scale
    except ArithmeticError as exc:
        raise InputError("drift must be a decimal such as 0.05 or 5%", value=value) from exc
    if not drift.is_finite() or drift < 0:
        raise InputError("drift must be a non-negative decimal", value=value)
    return drift


def alerts_for(
    run: RunRecord,
    report: Mapping[str, Any] | None,
    previous: RunRecord | None,
    drift: Decimal | None,
) -> list[Alert]:
    """The alerts `run` raises (see the module docstring)."""
    if run.status == "failed":
        return [Alert("failure", "run", mask(run.error or "the run failed"))]
    out: list[Alert] = []
    breaches = (report or {}).get("verdict", {}).get("breaches", [])
    for breach in breaches:
        kind = "shortfall" if breach.get("kind") in {"asset", "reserve"} else "threshold"
        message = str(breach.get("message"))
        if breach.get("kind") in {"asset", "combined"}:
            # "proven holdings 0 cover 0%" alone hides the cause: say which proofs are stale
            # or unproven (their holdings are what is missing from the proven figure)
            asset = str(breach.get("subject")) if breach.get("kind") == "asset" else None
            cause = not_proven_cause(report or {}, asset)
            if cause:
                message += f"; not counted as proven: {cause}"
        out.append(Alert(kind, str(breach.get("subject")), message))
    if drift is not None and previous is not None:
        for code, now in sorted(run.coverage.items()):
            before = previous.coverage.get(code)
            if before is None or before.ratio is None or now.ratio is None:
                continue
            fall = before.ratio - now.ratio
            if fall > drift:
                out.append(
                    Alert(
                        "drift",
                        code,
                        f"coverage of {code} fell from {before.ratio:.6} to {now.ratio:.6} "
                        f"(by {fall:.6}, more than {drift}) since run {previous.id}",
                    )
                )
    return out


def stress_alerts(
    outcomes: Sequence[StressOutcome], earlier: StressHistory, currency: str | None = None
) -> list[Alert]:
    """The ``stress`` and ``stress_error`` alerts of one run's scenario outcomes.

    ``stress`` fires once, when a scenario stops making every customer whole (its latest
    earlier evaluated outcome made everyone whole, or there is none), and stays silent while
    it stays short; ``stress_error`` fires when the file or a scenario cannot be evaluated
    and the previous run with scenario outcomes did not already fail on it."""
    out: list[Alert] = []
    for o in outcomes:
        if o.error is not None:
            if o.scenario_id not in earlier.previous_errors:
                subject = o.scenario_id or "scenarios"
                what = "the scenario file" if o.scenario_id is None else f"scenario {subject}"
                out.append(Alert("stress_error", subject, f"{what} was not evaluated: {o.error}"))
            continue
        if o.made_whole is False and earlier.last_made_whole.get(str(o.scenario_id), True):
            value = (
                ""
                if o.uncovered_value is None
                else f" ({currency or ''} {money(o.uncovered_value)} uncovered)".replace("( ", "(")
            )
            title = f" ({o.title})" if o.title else ""
            out.append(
                Alert(
                    "stress",
                    str(o.scenario_id),
                    f"scenario {o.scenario_id}{title} no longer makes every customer whole{value}",
                )
            )
    return out


def not_proven_cause(report: Mapping[str, Any], asset: str | None) -> str:
    """Why holdings are missing from the proven figure, in words: e.g. "2 proofs stale:
    epoch 2026-q4 signed 93 d before the pinned block, past the maximum age of 92 days
    ([ownership] max_age_days) by 1 d; 1 address unproven (hot-2)" — the stale proofs
    grouped by epoch with the limit they are past, the unproven ones by label. Only
    addresses holding `asset` (any asset when None) count; custodial ones are declared,
    not a cause. "" when every holding address is proven."""
    stale: dict[str, list[str]] = {}
    unproven: list[str] = []
    for wallet in report.get("wallets") or []:
        if not isinstance(wallet, Mapping):
            continue
        own = wallet.get("ownership")
        own = own if isinstance(own, Mapping) else {}
        status = own.get("status")
        if status not in {"stale", "unproven"}:
            continue
        balances = wallet.get("balances")
        held = [
            code
            for code, value in (balances.items() if isinstance(balances, Mapping) else [])
            if (asset is None or code == asset) and _nonzero(value)
        ]
        if not held:
            continue
        label = str(wallet.get("label") or wallet.get("address"))
        epoch = own.get("epoch")
        if status == "stale" and isinstance(epoch, Mapping):
            epoch_id = str(epoch.get("id"))
            reason = str(own.get("reason") or "")
            # "stale, counted as unproven: epoch E proof <what limit it is past>"
            detail = reason.partition(f"epoch {epoch_id} proof ")[2] or reason
            detail = detail.removeprefix(f"epoch {epoch_id} ")  # "expired at ...": named once
            stale.setdefault(epoch_id, []).append(detail)
        else:
            unproven.append(label)
    parts = []
    for epoch_id, details in sorted(stale.items()):
        count = len(details)
        parts.append(
            f"{count} proof{'' if count == 1 else 's'} stale: epoch {epoch_id} {details[0]}"
        )
    if unproven:
        count = len(unproven)
        shown = ", ".join(unproven[:5]) + (f" and {count - 5} more" if count > 5 else "")
        parts.append(f"{count} address{'' if count == 1 else 'es'} unproven ({shown})")
    return "; ".join(parts)


def _nonzero(value: Any) -> bool:
    units = value.get("base_units") if isinstance(value, Mapping) else value
    return str(units).strip() not in {"", "0", "None"}


def payload(
    run: RunRecord, alerts: Sequence[Alert], *, exchange: str | None, database: str
) -> dict[str, Any]:
    """The ``por-alert-v1`` document POSTed to the webhook."""
    return {
        "format": ALERT_FORMAT,
        "exchange": exchange,
        "database": database,
        "run": {
            "id": run.id,
            "status": run.status,
            "exit_code": run.exit_code,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "report_id": run.report_id,
            "error": run.error,
        },
        "alerts": [a.to_json() for a in alerts],
    }


def render_payload(
    shape: str,
    run: RunRecord,
    alerts: Sequence[Alert],
    *,
    exchange: str | None,
    attestation: str | None = None,
    database: str,
) -> Any:
    """The JSON value POSTed for `alerts` in `shape` (one of `FORMATS`; anything else is
    an `InputError` naming ``alerts.format``).

    The run's error and every alert's message are masked again here (registered secrets,
    URL credentials): a receiver is outside the exchange, and a run read from a database
    written before the errors were masked at the source may still hold one."""
    if run.error is not None:
        run = dataclasses.replace(run, error=mask(run.error))
    alerts = [dataclasses.replace(a, message=mask(a.message)) for a in alerts]
    if shape == "generic":
        return payload(run, alerts, exchange=exchange, database=database)
    if shape == "alertmanager":
        return alertmanager_payload(run, alerts, exchange=exchange, attestation=attestation)
    if shape == "slack":
        return slack_payload(run, alerts, exchange=exchange, attestation=attestation)
    raise InputError(
        f"unknown alert format: expected one of {', '.join(FORMATS)}",
        key="alerts.format",
        value=shape[:40],
    )


def alertmanager_payload(
    run: RunRecord, alerts: Sequence[Alert], *, exchange: str | None, attestation: str | None
) -> list[dict[str, Any]]:
    """Alertmanager's ``postableAlerts`` (API v2): one alert per `Alert`, firing from the
    run's end. No ``endsAt``: Alertmanager resolves an alert that is not sent again after
    its ``resolve_timeout``, and a scheduled run re-sends what still holds."""
    out: list[dict[str, Any]] = []
    for alert in alerts:
        name, severity = ALERTNAMES.get(alert.kind, ("PorAlert", "warning"))
        labels = {"alertname": name, "severity": severity, "subject": alert.subject}
        if exchange:
            labels["exchange"] = exchange
        if attestation:
            labels["attestation"] = attestation
        if alert.subject in run.coverage:
            labels["asset"] = alert.subject
        if alert.kind in {"stress", "stress_error"}:
            labels["scenario"] = alert.subject
        out.append(
            {
                "labels": labels,
                "annotations": {
                    "summary": _summary(alert, exchange),
                    "description": mask(f"{alert.message} (run {run.id}, exit {run.exit_code})"),
                },
                "startsAt": run.finished_at,
            }
        )
    return out


def _summary(alert: Alert, exchange: str | None) -> str:
    who = f"{exchange}: " if exchange else ""
    what = {
        "failure": "the reconciliation run failed",
        "shortfall": f"shortfall: {alert.subject}",
        "threshold": f"threshold breached: {alert.subject}",
        "drift": f"coverage of {alert.subject} fell",
        "stress": f"scenario {alert.subject} leaves customers short",
        "stress_error": f"scenario {alert.subject} not evaluated",
    }.get(alert.kind, f"{alert.kind}: {alert.subject}")
    return mask(f"{who}{what}")


def _mrkdwn(text: str) -> str:
    """Text for a Slack mrkdwn field: &, < and > escaped (Slack's only control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def slack_payload(
    run: RunRecord, alerts: Sequence[Alert], *, exchange: str | None, attestation: str | None
) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification's fallback) and Block
    Kit ``blocks`` — a header, one section per alert, a context line naming the run —
    within Slack's limits (150 characters of header, 3,000 per section, 50 blocks)."""
    who = exchange or "por"
    title = f"{who}: {len(alerts)} proof-of-reserves alert{'s' if len(alerts) != 1 else ''}"
    shown = list(alerts)[: SLACK_MAX_BLOCKS - 3]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(mask(title), 150)}}
    ]
    for alert in shown:
        line = f"*{alert.kind}* {alert.subject}\n{alert.message}"
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(mask(line)), 3000)},
            }
        )
    if len(alerts) > len(shown):
        more = f"… and {len(alerts) - len(shown)} more (see `por history`)"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    context = f"run {run.id} · {run.status} · exit {run.exit_code} · {run.finished_at}"
    if attestation:
        context += f" · attestation {attestation}"
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _cut(_mrkdwn(mask(context)), 3000)}],
        }
    )
    summary = "; ".join(f"{a.kind} {a.subject}" for a in alerts)
    return {"text": _cut(mask(f"{title}: {summary}"), 3000), "blocks": blocks}


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    attempts: int
    status: int | None
    error: str | None


@dataclass
class Webhook:
    """A JSON POST endpoint with a timeout per attempt and retries with backoff."""

    url: str
    timeout: float = 10.0  # float-ok: seconds
    retries: int = 3
    backoff: float = 1.0  # float-ok: seconds, doubled after every failed attempt
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)  # float-ok: seconds

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            # the URL is shown masked: webhook URLs often carry their secret in the path
            raise InputError(
                "the webhook must be an http:// or https:// URL", value=mask_url(self.url)
            )

    def send(self, document: Any) -> Delivery:
        """POST `document` (a JSON value) until it is accepted or the retries run out (the
        policy of `chains.retry`: 5xx, 429 and connection errors are retried, another 4xx
        is the receiver rejecting the document and is not)."""
        body = json.dumps(document, sort_keys=True).encode()
        made = 0

        def attempt() -> Delivery:
            nonlocal made
            made += 1
            request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "por-alerts"},
            )
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:  # noqa: S310
                return Delivery(True, made, int(reply.status), None)

        def failed(exc: BaseException, failure: Failure, attempts: int) -> Delivery:
            status = exc.code if isinstance(exc, urllib.error.HTTPError) else None
            return Delivery(False, attempts, status, failure.reason)

        # the URL often carries the receiver's secret in its path: the log shows it masked
        policy = RetryPolicy(self.retries, self.backoff, "webhook", log, sleep=self.sleep)
        return policy.run_sync(
            attempt,
            subject=f"webhook at {mask_url(self.url)}",
            classify=classify_webhook,
            give_up=failed,
        )
