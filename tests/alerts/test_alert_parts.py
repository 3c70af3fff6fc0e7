"""The parts of the alerts package, each alone: the bounded queue, coalescing, the rate limit, a
destination's retries and backoff (with a scripted notifier and a hand-moved clock), and the handling
of destination URLs (masking, splitting, the private file, validation)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from spreadhawk.alerts import (
    Alert,
    AlertConfigError,
    AlertKind,
    AlertQueue,
    ChannelLimits,
    Severity,
    describe,
    load_destinations,
)
from spreadhawk.alerts.channel import Channel, TokenBucket
from spreadhawk.alerts.coalesce import Coalescer, Message, merge
from spreadhawk.alerts.secrets import SCRUBBER, fragments, protect, read_private, split_urls

T0 = 1_723_075_200_000_000_000  # 2024-08-08 00:00 UTC


def alert(n: int = 0, severity: Severity = Severity.INFO, key: str = "fill:X:BTC/USDT") -> Alert:
    return Alert(T0 + n, AlertKind.FILL, severity, "fill X:BTC/USDT", f"BUY {n}", key, "X:BTC/USDT")


# ---------------------------------------------------------------------------- the queue
def test_a_full_queue_drops_the_oldest_of_the_least_severe_first() -> None:
    queue = AlertQueue(capacity=3)
    assert queue.put_nowait(alert(1, Severity.INFO))
    assert queue.put_nowait(alert(2, Severity.CRITICAL))
    assert queue.put_nowait(alert(3, Severity.INFO))
    assert queue.put_nowait(alert(4, Severity.WARNING))  # drops info 1
    assert queue.put_nowait(alert(5, Severity.WARNING))  # drops info 3
    assert not queue.put_nowait(alert(6, Severity.INFO))  # nothing less severe to drop: the new one goes
    assert queue.put_nowait(alert(7, Severity.CRITICAL))  # drops warning 4
    assert len(queue) == 3
    assert queue.dropped == [3, 1, 0]
    assert [a.ts_ns - T0 for a in queue.take_all()] == [2, 5, 7]  # arrival order across severities
    assert len(queue) == 0


def test_the_queue_never_grows_past_its_capacity() -> None:
    queue = AlertQueue(capacity=50)
    for n in range(1000):
        queue.put_nowait(alert(n, Severity(n % 3)))
        assert len(queue) <= 50
    assert queue.dropped_total == 950
    kept = queue.take_all()
    assert all(a.severity is Severity.CRITICAL for a in kept)  # info and warning went first


# ---------------------------------------------------------------------------- coalescing
def test_the_first_alert_of_a_key_goes_at_once_and_a_burst_behind_it_becomes_one_digest() -> None:
    coalescer = Coalescer(window_s=10)
    first = coalescer.add(alert(0), now=100.0)
    assert first is not None
    assert first.title == "fill X:BTC/USDT"
    assert "BUY 0" in first.body
    assert all(coalescer.add(alert(n), now=100.0 + n / 10) is None for n in range(1, 13))
    assert coalescer.add(alert(99, key="fill:X:ETH/USDT"), now=101.0) is not None  # another key: at once
    assert coalescer.due(now=109.9) == []
    (digest,) = coalescer.due(now=110.0)
    assert digest.title == "12 fills on X:BTC/USDT"
    assert digest.alerts == 12
    assert "BUY 1" in digest.body
    assert "and 7 more; the last: fill X:BTC/USDT: BUY 12" in digest.body
    assert coalescer.add(alert(20), now=115.0) is None  # within a window of the digest: held again
    (late,) = coalescer.due(now=0, flush=True)
    assert late.alerts == 1
    assert "BUY 20" in late.body


def test_a_digest_takes_the_gravest_severity_and_merging_puts_the_gravest_first() -> None:
    coalescer = Coalescer(window_s=1)
    coalescer.add(alert(0), now=0.0)
    coalescer.add(alert(1), now=0.1)
    coalescer.add(alert(2, Severity.CRITICAL), now=0.2)
    (digest,) = coalescer.due(now=1.0)
    assert digest.severity is Severity.CRITICAL
    info = Message("a fill", "x", Severity.INFO, AlertKind.FILL)
    kill = Message("KILL SWITCH", "y", Severity.CRITICAL, AlertKind.KILL_SWITCH)
    merged = merge([info, kill], "at shutdown")
    assert merged.title == "2 alerts at shutdown"
    assert merged.severity is Severity.CRITICAL
    assert merged.body.index("KILL SWITCH") < merged.body.index("a fill")


# ---------------------------------------------------------------------------- rate limit and retries
def test_the_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(per_minute=60, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert not bucket.take(0.9)
    assert bucket.take(1.0)
    assert bucket.available(100.0) == 3  # never more than the burst


class Scripted:
    """A notifier answering from a script: True, False, or an exception to raise."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[str] = []

    def notify(self, title: str, body: str, severity: Severity) -> bool:
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        self.sent.append(title)
        return answer


def drive(channel: Channel, now: float) -> None:
    """Pump until the send started (if any) has finished and been settled."""
    channel.pump(now)
    sending = channel._sending
    if sending is not None:
        sending.thread.join(5)
        channel.pump(now)


def test_a_failing_destination_backs_off_and_gives_up_after_the_last_attempt(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Scripted(False, RuntimeError("boom at https://secret"), False)
    limits = ChannelLimits(per_minute=6000, burst=10, max_attempts=3, backoff_s=2, max_backoff_s=60)
    channel = Channel("json://1***", notifier, limits, now=0.0)
    channel.offer(Message("kill", "body", Severity.CRITICAL, AlertKind.KILL_SWITCH))
    drive(channel, 0.0)  # attempt 1: refused -> wait 2 s
    assert channel.stats.failed == 1
    assert channel.pending == 1
    drive(channel, 1.9)  # still backing off: nothing sent
    assert channel.stats.failed == 1
    drive(channel, 2.0)  # attempt 2: raises -> wait 4 s
    assert channel.stats.failed == 2
    drive(channel, 5.9)
    assert channel.stats.failed == 2
    drive(channel, 6.0)  # attempt 3: refused -> dropped
    assert (channel.stats.failed, channel.stats.retried, channel.stats.given_up) == (3, 2, 1)
    assert channel.idle
    assert "RuntimeError" in caplog.text
    assert "secret" not in caplog.text
    assert "dropped 'kill' after 3 attempts" in caplog.text


def test_a_destination_sends_at_its_rate_and_merges_a_backlog() -> None:
    notifier = Scripted()
    channel = Channel("json://1***", notifier, ChannelLimits(per_minute=60, burst=2), now=0.0)
    for n in range(2):
        channel.offer(Message(f"m{n}", "", Severity.INFO, AlertKind.FILL))
    drive(channel, 0.0)
    drive(channel, 0.0)
    drive(channel, 0.0)  # the burst is spent
    assert notifier.sent == ["m0", "m1"]
    for n in range(2, 9):
        channel.offer(Message(f"m{n}", "", Severity.INFO, AlertKind.FILL))
    drive(channel, 1.0)  # one token: the backlog of 7 goes as one message
    assert notifier.sent[2] == "7 alerts held back while the destination was slow or unreachable"
    assert channel.idle
    assert channel.stats.alerts_sent == 9


def test_a_full_outbox_drops_the_least_severe() -> None:
    channel = Channel("x", Scripted(), ChannelLimits(outbox_size=2), now=0.0)
    info = Message("info", "", Severity.INFO, AlertKind.FILL)
    crit = Message("crit", "", Severity.CRITICAL, AlertKind.KILL_SWITCH)
    channel.offer(info)
    channel.offer(crit)
    channel.offer(crit)  # drops the info
    channel.offer(info)  # less severe than all held: dropped itself
    assert [d.message.title for d in channel.outbox] == ["crit", "crit"]
    assert channel.stats.dropped == 2


# ---------------------------------------------------------------------------- destinations
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_describe_shows_the_scheme_and_a_masked_host_only() -> None:
    assert describe(f"tgram://{TOKEN}/-100123456") == "tgram://1***"
    assert describe("slack://TokenA/TokenB/TokenC/#general") == "slack://T***"
    assert describe("mailtos://user:hunter2pass@gmail.com?to=a@b.c") == "mailtos://g***"
    assert describe("json://127.0.0.1:8080/path") == "json://1***"
    assert describe("not a url with a secret") == "***"


def test_urls_split_on_whitespace_and_commas_but_a_comma_inside_a_url_stays() -> None:
    text = "# my destinations\ntgram://a/b, slack://x/y/z\n  mailto://u:p@h.com?to=a@x.com,b@y.com  json://h/p,"
    assert split_urls(text) == ["tgram://a/b", "slack://x/y/z", "mailto://u:p@h.com?to=a@x.com,b@y.com", "json://h/p"]


def test_the_scrubber_masks_every_part_of_a_protected_url_in_watched_loggers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"tgram://{TOKEN}/-100123456"
    assert {"AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "123456789", "-100123456"} <= fragments(url)
    protect(url)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").debug("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    logging.getLogger("urllib3.connectionpool").debug('"POST /bot%s/sendMessage HTTP/1.1" 429', TOKEN)
    try:
        raise ConnectionError(f"cannot reach /bot{TOKEN}")
    except ConnectionError:
        logging.getLogger("apprise").exception("failed")
    assert "AAHdqTcv" not in caplog.text
    assert "123456789" not in caplog.text
    assert caplog.text.count("***") >= 3
    assert SCRUBBER.scrub(f"x {TOKEN} y") == "x *** y"


def test_a_destinations_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alerts"
    path.write_text("json://127.0.0.1:9/x\n")
    path.chmod(0o644)
    with pytest.raises(AlertConfigError, match="mode 0644; it must be readable by its owner only"):
        read_private(path)
    path.chmod(0o600)
    assert read_private(path) == "json://127.0.0.1:9/x\n"
    with pytest.raises(AlertConfigError, match="cannot read alerts file"):
        read_private(tmp_path / "missing")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_an_invalid_destination_is_named_by_its_position_never_by_its_content(tmp_path: Path) -> None:
    secret = "CANARYSLACKTOKEN0042"
    env = {
        "SPREADHAWK_ALERTS_ALLOW_LOCAL": "1",
        "SPREADHAWK_ALERTS": f"json://127.0.0.1:9/ok nosuchscheme://{secret}/x",
    }
    with pytest.raises(AlertConfigError) as raised:
        load_destinations(env)
    assert str(raised.value).startswith("SPREADHAWK_ALERTS entry 2 is not a URL apprise can send to")
    assert secret not in str(raised.value)
    path = tmp_path / "alerts"
    path.write_text(f"# ours\njson://127.0.0.1:9/a\njson://127.0.0.1:9/b, tgram://{secret}\n")
    path.chmod(0o600)
    with pytest.raises(AlertConfigError, match=r"^alerts file entry 3 is not a URL") as raised:
        load_destinations({"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1"}, path)
    assert secret not in str(raised.value)
    path.write_text("json://127.0.0.1:9/a\njson://127.0.0.1:9/a\n")
    found = load_destinations({"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1", "SPREADHAWK_ALERTS": "json://127.0.0.1:9/a"}, path)
    assert [d.origin for d in found] == ["SPREADHAWK_ALERTS entry 1"]  # each destination once
    assert "127.0.0.1" not in repr(found)
    assert str(found[0]) == "json://1*** (SPREADHAWK_ALERTS entry 1)"
    assert load_destinations({}) == []


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:9/x",
        "form://localhost:8080/hook",
        "json://169.254.169.254/latest/meta-data",  # the cloud metadata address
        "json://10.1.2.3/x",
        "xml://[::1]:9/x",
        "json://192.168.0.7/x",
    ],
)
def test_a_destination_inside_the_machine_or_its_network_is_refused(url: str) -> None:
    """S12: alerts are server-side requests; none may be aimed at the machine or its network."""
    with pytest.raises(AlertConfigError, match=r"^SPREADHAWK_ALERTS entry 1 points inside this machine"):
        load_destinations({"SPREADHAWK_ALERTS": url})
    allowed = load_destinations({"SPREADHAWK_ALERTS": url, "SPREADHAWK_ALERTS_ALLOW_LOCAL": "1"})
    assert [d.url for d in allowed] == [url]
    outside = "json://hooks.example.com/x tgram://123456:ABCDEF/987"
    assert len(load_destinations({"SPREADHAWK_ALERTS": outside})) == 2
