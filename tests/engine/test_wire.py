"""The binary form of commands: round trips, pinned bytes, and replay taking the fast path."""

from __future__ import annotations

import pytest

from engine.core import BUY, Amend, Cancel, CancelAll, Engine, Limit, Market, MarketConfig, SetMode, digest
from engine.core.types import CANCEL_BOTH, CONSTANTS, IOC
from engine.core.wire import KINDS, WireError, apply, decode, encode, encode_item
from tests.engine.conftest import ALICE, BTC, ETH, MAKER, btc_config, buy, sell

EVERY_KIND = [
    Limit(BTC, 7, "a1", "buy", 10_010, 5, "ioc", "cancel_both"),
    Market(BTC, 7, "a2", "sell", 3),
    Cancel(BTC, 7, 42),
    CancelAll(None, 7),
    Amend(BTC, 7, 42, 10_000, 2),
    SetMode(BTC, "halted", True),
]

# Bytes written by this code (marshal version 4). Journals on disk hold these: they must keep
# decoding to the same commands after any upgrade of Python or of this module.
PINNED = {
    "290ae901000000fa03312d30fa074254432d555344e907000000da026131da03627579e91a270000e905000000da03696f63"
    "da0b63616e63656c5f626f7468": (EVERY_KIND[0], "1-0"),
    "2908e9020000004efa074254432d555344e907000000da026132da0473656c6ce903000000da0d63616e63656c5f6e6577657374": (
        EVERY_KIND[1],
        None,
    ),
    "2905e9030000004efa074254432d555344e907000000e92a000000": (EVERY_KIND[2], None),
    "2904e9040000004e4ee907000000": (EVERY_KIND[3], None),
    "2907e9050000004efa074254432d555344e907000000e92a000000e910270000e902000000": (EVERY_KIND[4], None),
    "2905e9060000004efa074254432d555344da0668616c74656454": (EVERY_KIND[5], None),
}


@pytest.mark.parametrize("command", EVERY_KIND, ids=lambda command: type(command).__name__)
def test_every_command_type_comes_back_as_it_went_in(command):
    assert decode(encode(command, "1700000000000-3")) == (command, "1700000000000-3")
    assert decode(encode(command)) == (command, None)


@pytest.mark.parametrize("hex_payload", PINNED)
def test_payloads_written_by_this_version_keep_their_meaning(hex_payload):
    assert decode(bytes.fromhex(hex_payload)) == PINNED[hex_payload]


def test_replayed_constants_are_the_engines_own_objects_so_replay_takes_the_fast_path():
    spelled_at_run_time = "".join(["b", "uy"]), "".join(["i", "oc"]), "".join(["cancel_", "both"])
    command = Limit(BTC, ALICE, "a1", *spelled_at_run_time[:1], 9_990, 3, *spelled_at_run_time[1:])

    replayed, _ = decode(encode(command))

    assert replayed.side is BUY
    assert replayed.tif is IOC
    assert replayed.stp is CANCEL_BOTH


def test_applying_a_payload_is_submitting_its_command(engine):
    twin = Engine([btc_config(), MarketConfig(ETH, band_bps=None)])  # the `engine` fixture's markets
    history = [sell(MAKER, "m1", 10_010, 5), buy(ALICE, "a1", 10_020, 8), Cancel(BTC, ALICE, 2), *EVERY_KIND]

    assert [apply(engine, encode(command)) for command in history] == [twin.submit(command) for command in history]
    assert digest(engine) == digest(twin)


def test_something_that_is_not_a_command_is_refused_both_ways():
    with pytest.raises(WireError, match="is not an engine command"):
        encode(("BTC-USD", 1))
    with pytest.raises(WireError, match="not an encoded command"):
        decode(b"\x00garbage")
    with pytest.raises(WireError, match="not an encoded command"):
        decode(encode(Cancel(BTC, 1, 2))[:-3])


def test_a_command_with_fields_of_the_wrong_type_is_journaled_as_it_is_and_rejected_alike(engine):
    broken = [Limit(BTC, ALICE, "a1", ["buy"], 9_990.5, {"qty": 1}), Cancel(BTC, [ALICE], None)]
    twin = Engine([btc_config(), MarketConfig(ETH, band_bps=None)])

    for command in broken:
        assert decode(encode(command)) == (command, None)
        assert apply(engine, encode(command)) == twin.submit(command)


def test_a_field_marshal_cannot_write_is_refused_before_anything_happens():
    with pytest.raises(WireError, match="Limit cannot be encoded"):
        encode(Limit(BTC, ALICE, "a1", "buy", object(), 1))


def _shortened(command) -> list[list]:
    """The command as a stream sends it, `[kind, *fields]`: whole, and without each trailing default value."""
    kind, fields = KINDS[type(command)], list(command)
    forms = [[kind, *fields]]
    defaults = type(command)._field_defaults
    while fields and defaults.get(type(command)._fields[len(fields) - 1], object()) == fields[-1]:
        fields = fields[:-1]
        forms.append([kind, *fields])
    return forms


@pytest.mark.parametrize(
    "command",
    [*EVERY_KIND, Limit(BTC, 7, "d1", "sell", 10_000, 1), Limit(BTC, 7, "d2", "buy", 9_000, 1, "fok"), CancelAll(BTC)],
    ids=lambda command: type(command).__name__,
)
def test_a_command_from_the_stream_is_journaled_exactly_as_the_command_itself(command):
    """`encode_item` (the worker's fast path) and `encode` write the same bytes and give the same fields."""
    expected = decode(encode(command, "9-0/3"))
    for form in _shortened(command):
        kind, payload, fields = encode_item(form, "9-0/3")
        assert kind == KINDS[type(command)]
        assert decode(payload) == expected
        assert fields == tuple(command)
        constants = [value for value in fields if isinstance(value, str) and value in CONSTANTS]
        assert all(value is CONSTANTS[value] for value in constants)  # interned: the engine compares by identity


def test_a_stream_command_of_the_wrong_shape_is_refused_with_the_reason():
    with pytest.raises(WireError, match="Limit takes 8 fields"):
        encode_item([1, BTC, 7, "x", "buy", 100])
    with pytest.raises(WireError, match="unknown command kind"):
        encode_item(["1", BTC])
