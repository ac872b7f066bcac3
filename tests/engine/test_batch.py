"""The compiled batch path (`engine.batch`) and journal records (`engine.records`) agree with the Python core.

The property tests drive single commands through `apply_command`; here whole worker batches
(decoding, journal payloads, refusals, counters) and journal records are compared with what
the pure-Python code makes of the same input.
"""

from __future__ import annotations

import marshal
import random
from dataclasses import dataclass, field

import pytest

from engine.batch import NOT_A_COMMAND, apply_batch, replay
from engine.core import REJECTED, TRADE, Engine, MarketConfig, digest
from engine.core.types import CONSTANTS
from engine.core.wire import APPLY, WireError, encode_item
from engine.journal import MAX_PAYLOAD, Journal, JournalError, encode_record
from engine.records import encode_records, scan_records
from engine.streams import bad_command

MARKETS = [
    MarketConfig("AAA", min_qty=1, max_qty=50, band_bps=500, reference_price=1_000),
    MarketConfig("BBB", band_bps=None),
]


@dataclass
class Entry:
    entry_id: str
    results: list = field(default_factory=list)
    markets: dict = field(default_factory=dict)


def python_batch(engine: Engine, work: list, counters: dict) -> list[bytes]:
    """What the worker did per command before the compiled loop: the specification of `apply_batch`."""
    payloads = []
    for pending, start, commands in work:
        for index, item in enumerate(commands, start):
            if type(item) is not list or not item:
                pending.results.append(bad_command(NOT_A_COMMAND))
                continue
            try:
                kind, payload, fields = encode_item(item, f"{pending.entry_id}/{index}")
            except WireError as error:
                pending.results.append(bad_command(str(error)))
                continue
            events = APPLY[kind](engine, *fields)
            payloads.append(payload)
            pending.results.append(events)
            symbol = fields[0] if type(fields[0]) is str else "*"
            pending.markets[symbol] = pending.markets.get(symbol, 0) + 1
            counts = counters.setdefault(symbol, [0, 0, 0, 0, 0])
            counts[0] += 1
            if not events:  # a cancel-all with nothing to cancel
                counts[1] += 1
                continue
            if events[0][-1] is REJECTED:
                counts[2] += 1
                continue
            counts[1] += 1
            for event in events:
                if event[-1] is TRADE:
                    counts[3] += 1
                    counts[4] += event[5]
    return payloads


def decoded(payloads: list[bytes]) -> list[tuple]:
    return [marshal.loads(payload) for payload in payloads]  # noqa: S302 (payloads made by the test)


def flow(seed: int, count: int) -> list:
    """Commands as a client sends them: mostly plain limit orders and cancels, some of everything else."""
    rng = random.Random(seed)
    made: list = []
    for number in range(count):
        symbol = rng.choice(["AAA", "AAA", "BBB", "ZZZ"])
        side = rng.choice(["buy", "sell", "".join(["b", "uy"]), "hold"])
        price = 1_000 + rng.randint(-8, 8) + rng.choice([0, 0, 0, 0, 0, 0, 0, 0, 100])
        qty = rng.choice([1, 2, 5, 9, 20, 0, 60])
        roll = rng.random()
        if roll < 0.55:
            item = [1, symbol, rng.randint(1, 4), f"c{number % 300}", side, price, qty]
            item += rng.choice([[], ["gtc"], ["ioc"], ["gtc", "none"], ["post_only", "cancel_both"], ["fok"]])
        elif roll < 0.75:
            item = [3, symbol, rng.randint(0, 4), rng.randint(0, number + 1)]
        elif roll < 0.8:
            item = [2, symbol, rng.randint(1, 4), f"m{number}", side, qty]
        elif roll < 0.84:
            item = [5, symbol, rng.randint(1, 4), rng.randint(1, number + 1), price, qty]
        elif roll < 0.86:
            item = [6, symbol, rng.choice(["open", "open", "post_only", "cancel_only", "halted"])]
        elif roll < 0.87:
            item = [4, symbol, rng.choice([None, 1])]
        else:  # what a broken client sends
            item = rng.choice(
                [
                    [1, "AAA", 1, "x", "buy", 1.5, 1],
                    [1, "AAA", "1", "x", "buy", 1_000, 1],
                    [1, "AAA", 1, ["x"], "buy", 1_000, 1],
                    [1, "AAA", 1, "x", {"side": 1}, 1_000, 1],
                    [1, "AAA", 1, "x", "buy", 1_000, 2**70],
                    [True, "AAA", 1, f"t{number}", "buy", 1_000, 1],
                    [1, "AAA"],
                    [9, "AAA"],
                    [3, "AAA", 1, 2**64],
                    [],
                    "limit",
                    None,
                ]
            )
        made.append(item)
    return made


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_gives_the_python_events_payloads_and_counts(seed):
    commands = flow(seed, 3_000)
    compiled, python = Engine(MARKETS), Engine(MARKETS)
    counted, expected_counts = {}, {}
    for start in range(0, len(commands), 250):
        chunk = commands[start : start + 250]
        ours, theirs = Entry(f"{seed}-{start}"), Entry(f"{seed}-{start}")
        # An entry half applied before a crash resumes at its first unjournaled command.
        payloads = apply_batch(compiled, [(ours, 0, chunk[:100]), (ours, 100, chunk[100:])], counted)
        assert decoded(payloads) == decoded(python_batch(python, [(theirs, 0, chunk)], expected_counts))
        assert ours.results == theirs.results
        assert ours.markets == theirs.markets
    assert counted == expected_counts
    assert digest(compiled) == digest(python)
    assert counted["AAA"][3] > 0, "the flow must trade"


@pytest.mark.parametrize(
    "item",
    [
        [1, "BTC-USD", 7, "a1", "buy", 10_000, 5],
        [1, "BTC-USD", 7, "a1", "sell", 10_000, 5, "ioc", "cancel_both"],
        [1, "BTC-USD", 2**40, "a1", "buy", 2**62, 2**31, "gtc", "none"],
        [1, "BTC-USD", -(2**31) - 1, "a1", "buy", -5, -(2**62), "gtc", "none"],
        [1, "BTC-USD", 2**63 - 1, "a1", "buy", 2**31 - 1, -(2**31), "fok"],
        [1, "BTC-USD", 7, "ü", "buy", 10_000, 5],
        [1, "X" * 300, 7, "a", "buy", 10_000, 5],
        [1, "BTC-USD", 7, "a", "".join(["se", "ll"]), 10_000, 5, "post_only", "hold"],
    ],
)
def test_a_limit_order_payload_reads_back_as_marshal_writes_it(item):
    """The compiled path writes limit payloads itself, in marshal's format: they must read back the same."""
    (payload,) = apply_batch(Engine(MARKETS), [(Entry("5-1"), 3, [item])], {})
    _, expected, _ = encode_item(item, "5-1/3")

    ours, theirs = marshal.loads(payload), marshal.loads(expected)  # noqa: S302 (made just above)

    assert ours == theirs
    assert [type(value) for value in ours] == [type(value) for value in theirs]
    constants = [(mine is CONSTANTS.get(mine)) for mine in ours if isinstance(mine, str)]
    assert constants == [(value is CONSTANTS.get(value)) for value in theirs if isinstance(value, str)]
    assert ours[5] is CONSTANTS["buy"] or ours[5] is CONSTANTS["sell"]  # interned: the engine compares by identity


def test_replay_of_the_payloads_rebuilds_the_same_engine():
    engine = Engine(MARKETS)
    payloads = apply_batch(engine, [(Entry("1-0"), 0, flow(9, 4_000))], {})
    heard = []

    rebuilt = Engine(MARKETS)
    replay(rebuilt, payloads, lambda source, events: heard.append(source))

    assert digest(rebuilt) == digest(engine)
    assert rebuilt.last_seq == engine.last_seq == len(payloads)
    assert heard[0] == "1-0/0"
    assert len(heard) == len(payloads)


def test_records_are_the_bytes_python_writes_and_read_back():
    payloads = [b"", b"x", bytes(range(256)) * 3, b"last"]

    blob = encode_records(41, payloads, MAX_PAYLOAD)

    assert blob == b"".join(encode_record(number, payload) for number, payload in enumerate(payloads, 41))
    assert scan_records(blob, 0, 41, MAX_PAYLOAD) == (payloads, len(blob), 41 + len(payloads))


def test_scanning_stops_at_the_first_record_that_is_not_sound():
    payloads = [b"one", b"two", b"three"]
    blob = bytearray(encode_records(1, payloads, MAX_PAYLOAD))
    second = len(encode_record(1, b"one"))
    blob[second + 16] ^= 0xFF  # the second payload's first byte: its CRC fails

    assert scan_records(bytes(blob), 0, 1, MAX_PAYLOAD) == ([b"one"], second, 2)
    assert scan_records(bytes(blob), 0, 7, MAX_PAYLOAD) == ([], 0, 7)  # misnumbered
    assert scan_records(bytes(blob[:-2]), second * 2 + 2, 3, MAX_PAYLOAD) == ([], second * 2 + 2, 3)  # short


def test_records_up_to_after_are_checked_but_not_copied():
    payloads = [b"one", b"two", b"three"]
    blob = encode_records(1, payloads, MAX_PAYLOAD)

    assert scan_records(blob, 0, 1, MAX_PAYLOAD, 2) == ([b"three"], len(blob), 4)
    assert scan_records(blob, 0, 1, MAX_PAYLOAD, 9) == ([], len(blob), 4)


def test_a_payload_over_the_limit_is_refused_before_anything_is_written(tmp_path):
    journal = Journal(tmp_path)
    journal.append([b"fine"])

    with pytest.raises(JournalError, match="over the"):
        journal.append([b"ok", b"x" * (MAX_PAYLOAD + 1)])

    assert [record.payload for record in journal.records()] == [b"fine"]
