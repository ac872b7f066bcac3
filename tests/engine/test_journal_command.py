"""`manage.py journal verify|inspect`: read-only checks an operator runs on a journal."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from engine.core import Cancel, Limit, MarketConfig
from engine.durable import DurableEngine
from engine.journal import HEADER, Journal, encode_record, segment_name


@pytest.fixture
def journal_dir(tmp_path):
    journal = Journal(tmp_path)
    journal.append([b"alpha", b"beta", b"gamma"])
    journal.write_snapshot(2, b"state")
    journal.close()
    return tmp_path


def test_verify_summarises_a_healthy_journal(journal_dir, capsys):
    call_command("journal", "verify", str(journal_dir))
    out = capsys.readouterr().out
    assert "segments: 1, records: 3, sequences 1..3" in out
    assert "snapshot-00000000000000000002.snap: sequence 2, 5 bytes, ok" in out
    assert "journal ok" in out


def test_verify_fails_naming_the_corrupt_record(journal_dir):
    segment = journal_dir / segment_name(1)
    data = bytearray(segment.read_bytes())
    data[HEADER.size] ^= 0xFF  # the first payload byte of record 1
    segment.write_bytes(bytes(data))
    with pytest.raises(CommandError, match=rf"{segment.name} at byte 0 \(sequence 1\): checksum mismatch"):
        call_command("journal", "verify", str(journal_dir))


def test_verify_reports_a_torn_tail_and_leaves_the_file_alone(journal_dir, capsys):
    segment = journal_dir / segment_name(1)
    data = segment.read_bytes()
    segment.write_bytes(data[:-2])
    call_command("journal", "verify", str(journal_dir))
    assert "torn last record" in capsys.readouterr().out
    assert segment.read_bytes() == data[:-2]


def test_inspect_lists_records_after_a_sequence(journal_dir, capsys):
    call_command("journal", "inspect", str(journal_dir), "--after", "1")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["2", "3"]
    assert encode_record(2, b"beta")[HEADER.size :].hex(" ") in lines[0]


def test_it_says_what_to_give_when_the_directory_is_missing(tmp_path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("journal", "verify", str(tmp_path / "nope"))


def test_inspect_shows_the_commands_an_engine_journal_holds(tmp_path, capsys):
    durable = DurableEngine.open(tmp_path, [MarketConfig("BTC-USD", band_bps=None)])
    durable.submit([Limit("BTC-USD", 7, "a1", "buy", 10_000, 5), Cancel("BTC-USD", 7, 1)], source="1700000000000-0")
    durable.close()

    call_command("journal", "inspect", str(tmp_path))

    lines = capsys.readouterr().out.splitlines()
    assert "Limit(symbol='BTC-USD', account=7, client_order_id='a1', side='buy'" in lines[0]
    assert lines[1].endswith("Cancel(symbol='BTC-USD', account=7, order_id=1)  from 1700000000000-0")
