"""Markdown to Notion blocks: every Notion limit held, nothing of the text lost."""

from __future__ import annotations

from typing import Any

from connectors.notion.blocks import (
    MAX_REQUEST_BLOCKS,
    Style,
    batches,
    children_of,
    code_language,
    fit,
    markdown_to_blocks,
    public_url,
    rich_text,
    size,
    split_text,
)


def text(block: dict[str, Any]) -> str:
    return "".join(item["text"]["content"] for item in block[block["type"]]["rich_text"])


def depth(block: dict[str, Any]) -> int:
    return 1 + max((depth(child) for child in children_of(block)), default=0)


def test_text_splits_by_utf16_units_without_breaking_a_character() -> None:
    parts = split_text("😀" * 1500)
    assert [len(part) for part in parts] == [1000, 500]
    assert "".join(parts) == "😀" * 1500


def test_a_paragraph_beyond_100_objects_continues_in_the_next_block() -> None:
    markdown = " ".join(f"**b{n}** plain" for n in range(120))
    blocks = markdown_to_blocks(markdown)
    assert [b["type"] for b in blocks] == ["paragraph"] * 3
    assert [len(b["paragraph"]["rich_text"]) for b in blocks] == [100, 100, 40]
    assert "".join(text(b) for b in blocks) == markdown.replace("**", "")


def test_a_heading_keeps_its_text_in_100_objects() -> None:
    items = rich_text([(f"w{n}", Style(bold=n % 2 == 0)) for n in range(150)])
    kept = fit(items)
    assert len(kept) == 100
    assert "".join(i["text"]["content"] for i in kept) == "".join(f"w{n}" for n in range(150))


def test_lists_nest_two_levels_deep_and_deeper_items_follow_their_parent() -> None:
    markdown = "- one\n  - two\n    - three\n      - four\n        - five\n"
    [top] = markdown_to_blocks(markdown)
    assert depth(top) == 3
    [two] = children_of(top)
    assert [text(b) for b in children_of(two)] == ["three", "four", "five"]


def test_a_table_of_250_rows_becomes_tables_of_100_with_the_header_each_time() -> None:
    rows = "\n".join(f"| r{n} | {n} |" for n in range(250))
    blocks = markdown_to_blocks(f"| Name | Value |\n|---|---|\n{rows}\n")
    assert [len(children_of(b)) for b in blocks] == [100, 100, 53]
    for table in blocks:
        assert table["table"]["table_width"] == 2 and table["table"]["has_column_header"]
        header = children_of(table)[0]["table_row"]["cells"][0][0]["text"]["content"]
        assert header == "Name"


def test_a_table_too_deep_for_notion_becomes_lines() -> None:
    markdown = "- a\n  - b\n\n    | x | y |\n    |---|---|\n    | 1 | 2 |\n"
    [top] = markdown_to_blocks(markdown)
    [b] = children_of(top)
    assert [text(line) for line in children_of(b)] == ["x | y", "1 | 2"]


def test_requests_hold_100_top_blocks_and_1000_blocks_in_all() -> None:
    item = {"type": "bulleted_list_item", "bulleted_list_item": {
        "rich_text": [], "children": [{"type": "divider", "divider": {}}] * 30}}
    chunks = batches([item] * 70)
    assert all(sum(size(b) for b in chunk) <= MAX_REQUEST_BLOCKS for chunk in chunks)
    assert [len(chunk) for chunk in chunks] == [32, 32, 6]
    assert [len(chunk) for chunk in batches([{"type": "divider", "divider": {}}] * 250)] == \
        [100, 100, 50]


def test_public_urls_exclude_loopback_private_and_local_names() -> None:
    assert public_url("https://hub.example.com/s.png")
    for url in ("http://127.0.0.1/s.png", "http://localhost:8000/s.png", "http://[::1]/s.png",
                "http://10.0.0.8/s.png", "http://192.168.1.2/s.png", "http://169.254.1.1/x",
                "http://hub.local/s.png", "http://hub/s.png", "ftp://example.com/s.png",
                "snapshot-1.png", "data:image/png;base64,AAAA"):
        assert not public_url(url), url


def test_code_languages_map_to_notions_names() -> None:
    assert [code_language(info) for info in ("py", "JS", "console", "", "brainfuck")] == \
        ["python", "javascript", "shell", "plain text", "plain text"]


def test_bare_urls_become_links_but_not_in_code() -> None:
    [block] = markdown_to_blocks("See https://hub.example.com/r/1. Or `https://x.example/`")
    items = block["paragraph"]["rich_text"]
    assert items[1] == {"type": "text", "text": {"content": "https://hub.example.com/r/1",
                                                 "link": {"url": "https://hub.example.com/r/1"}}}
    assert items[-1]["annotations"] == {"code": True} and "link" not in items[-1]["text"]
