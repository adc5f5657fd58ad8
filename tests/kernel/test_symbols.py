"""feedhandler.kernel.symbols.SymbolTable: ids, interning, growth, bound; shared with BookSyncGroup."""
from __future__ import annotations

from feedhandler.kernel.symbols import SymbolTable
from feedhandler.sync import BookSyncGroup, SequenceRule


def test_ids_are_dense_and_interned_strings_are_reused():
    t = SymbolTable()
    names = [f"SYM{i}USDT" for i in range(1000)]           # several rehashes
    ids = [t.add(n) for n in names]
    assert ids == list(range(1000))
    for i, n in enumerate(names):
        assert t.find(n) == i and t.find(n.encode()) == i and t.name(i) == n
        assert t.intern(n.encode()) is t.intern(n.encode())
    assert t.find("NOPE") == -1 and len(t) == 1000 and "SYM5USDT" in t


def test_max_symbols_bounds_the_table():
    t = SymbolTable(max_symbols=3)
    assert [t.add(n) for n in "ABC"] == [0, 1, 2]
    assert t.add("D") == -1 and len(t) == 3
    assert t.intern(b"D") == "D" and "D" not in t


def test_book_sync_group_uses_the_shared_table():
    table = SymbolTable()
    group = BookSyncGroup("x", SequenceRule("x"), symbol_table=table)
    sync = group.lookup_bytes(b"BTCUSDT")
    assert table.find("BTCUSDT") == 0 and group.lookup_bytes(b"BTCUSDT") is sync
    assert group.symbol_table is table
    group.forget(["BTCUSDT"])
    assert "BTCUSDT" not in group
    again = group.lookup_bytes(b"BTCUSDT")
    assert again is not sync and table.find("BTCUSDT") == 0     # the id is kept, the book is new
