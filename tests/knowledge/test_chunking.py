"""Long tables and lists are cut between rows and items, never inside one, and every piece carries
what makes it readable on its own: a table its header row, a list its lead-in line."""
from __future__ import annotations

from apps.knowledge.chunking import MAX_CHARS, chunk_sections
from apps.knowledge.parsers import parse_markdown

ROWS = [f"| Service number {i} with a long descriptive name | ARS {i},500 per month. Banelco: free | "
        f"CLP {i},990. Redbanc: first 2 free |" for i in range(1, 16)]
FEES_MD = ("# Fees\n\n## Fees table\n\n| Service | Argentina | Chile |\n|---|---|---|\n" + "\n".join(ROWS) + "\n").encode()

ITEMS = [f"- item {i}: the 6-digit code number {i} that we send you by SMS or WhatsApp, or any password" for i in range(1, 16)]
NEVER_MD = ("# Security\n\n## What we never ask\n\nNo one from Pampa Pay will ever ask you, by phone or chat, for:\n\n"
            + "\n".join(ITEMS) + "\n\nIf someone asks for any of these, it is a scam.\n").encode()


def _chunks(md: bytes) -> list[str]:
    return [c.text for c in chunk_sections(parse_markdown(md))]


def _table_then_list(title: str, section: str, header: str, rows: list[str], between: str, items: list[str]) -> bytes:
    """A page whose section holds a table, then (after an optional lead-in line) a bulleted list."""
    return (f"# {title}\n\n## {section}\n\n{header}\n" + "\n".join(rows) + "\n\n"
            + (f"{between}\n\n" if between else "") + "\n".join(f"- {item}" for item in items) + "\n").encode()


def _rows_only_in_their_own_chunk(chunks: list[str], first_row: str) -> str:
    """The one chunk holding the table (found by its first row); no other chunk holds a row of it."""
    assert len(chunks) >= 2
    table = [c for c in chunks if first_row in c]
    assert len(table) == 1
    for chunk in chunks:
        if chunk is not table[0]:
            assert "|" not in chunk, chunk  # no row of the table outside its own chunk
    return table[0]


def test_a_long_table_is_cut_between_rows_and_each_piece_repeats_its_header():
    chunks = [c for c in _chunks(FEES_MD) if "|" in c]
    assert len(chunks) >= 2 and all(len(c) <= MAX_CHARS for c in chunks)
    rows_seen = []
    for chunk in chunks:
        lines = chunk.split("\n")
        assert lines[0] == "Service | Argentina | Chile", chunk  # the header first, in every piece
        for line in lines[1:]:
            assert line.count("|") == 2, line  # whole rows only: "each. Banelco:" never ends a line
            rows_seen.append(line.split(" | ")[0])
    assert rows_seen == [f"Service number {i} with a long descriptive name" for i in range(1, 16)]


def test_a_long_list_is_cut_between_items_and_each_piece_keeps_its_lead_in():
    chunks = [c for c in _chunks(NEVER_MD) if "item " in c]
    assert len(chunks) >= 2
    items_seen = []
    for chunk in chunks:
        assert "will ever ask you, by phone or chat, for:" in chunk.split("\n")[0], chunk
        for line in chunk.split("\n")[1:]:
            if line.startswith("- "):
                assert line.endswith("or any password"), line  # no item cut in two
                items_seen.append(line)
    assert items_seen == ITEMS  # every item once, in order: no partial item carried over
    assert "it is a scam" in _chunks(NEVER_MD)[-1]


def test_prose_is_still_cut_at_sentences_with_overlap():
    text = " ".join(f"Sentence {i} explains one detail of the fibre installation." for i in range(40))
    chunks = _chunks(f"# Guide\n\n{text}\n".encode())
    assert len(chunks) >= 2
    for previous, current in zip(chunks, chunks[1:]):
        assert current.split(".")[0] in previous


def test_a_row_longer_than_a_chunk_is_still_cut_so_every_chunk_fits():
    long_item = "- " + " ".join(f"Clause {i} of a very long list item about the fibre installation." for i in range(30))
    chunks = _chunks(f"# Terms\n\nThe terms:\n\n- short item\n{long_item}\n- last item\n".encode())
    assert len(chunks) >= 2 and all(len(c) <= MAX_CHARS for c in chunks)


def test_a_table_whose_last_cells_are_empty_is_not_carried_into_the_next_chunk():
    """A row ending in an empty cell ("Rapipago y Pago Fácil |") is still a row: the overlap carried
    into the next chunk never starts with orphan rows, whose first one would read as a header."""
    rows = [f"| Way to pay number {i} in Argentina | Way {i} in Uruguay |" for i in range(1, 9)]
    rows += ["| Pago Mis Cuentas y Red Link | |", "| Rapipago y Pago Fácil | |"]
    chunks = _chunks(_table_then_list("Billing", "Ways to pay", "| Argentina | Uruguay |\n|---|---|", rows, "",
                                      [f"Note {i}: payments in cash are credited within 48 business hours, "
                                       "transfers in 24." for i in range(6)]))
    table = _rows_only_in_their_own_chunk(chunks, "Way to pay number 1 ")
    assert table.split("\n")[0] == "Argentina | Uruguay"


def test_a_table_followed_by_a_lead_in_line_is_not_carried_into_the_next_chunk():
    """The chunk ends with the line after the table ("Important details:"), so its last line is no
    row, but the overlap must still not carry the table's last rows: the next chunk would start with
    a headerless table whose first row reads as the header ("Laser surgery: no no; no no; yes...")."""
    rows = [f"| Benefit number {i} of the optics plan | no | yes | yes, within the same cap |" for i in range(1, 8)]
    rows += ["| Laser surgery | no | no | 50%, with prior authorisation |"]
    chunks = _chunks(_table_then_list("Optics", "Optics", "| | Basic | Plus | Full |\n|---|---|---|---|", rows,
                                      "Important details:",
                                      [f"Detail {i}: the prescription must be less than 60 days old when you buy."
                                       for i in range(8)]))
    table = _rows_only_in_their_own_chunk(chunks, "Benefit number 1 ")
    assert any(c.startswith("Important details:") for c in chunks if c is not table)
