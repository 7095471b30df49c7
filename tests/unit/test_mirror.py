"""The DOM mirror follows full snapshots and mutations and keeps only what indexing needs."""

import msgspec
from rrweb_events import (
    BODY_ID,
    add,
    comment,
    document,
    element,
    remove,
    set_attrs,
    set_text,
    text,
)

from replayhub.ingest.mirror import TEXT, Mirror


def mirror_of(*body: dict) -> Mirror:
    mirror = Mirror()
    mirror.load_snapshot(document(body))
    return mirror


def children(mirror: Mirror, node_id: int) -> list[int]:
    return mirror.nodes[node_id].children


def test_snapshot_returns_title_and_mirrors_every_node() -> None:
    mirror = Mirror()
    title = mirror.load_snapshot(document([element(10, "p", {}, text(11, "Hi"))], "My shop"))
    assert title == "My shop"
    assert set(mirror.nodes) == {1, 2, 3, 4, 5, 6, 7, 10, 11}
    assert mirror.nodes[10].parent == BODY_ID
    assert mirror.nodes[11].kind == TEXT and mirror.nodes[11].text == "Hi"


def test_snapshot_without_title_gives_empty_title() -> None:
    assert Mirror().load_snapshot(document([], title=None)) == ""


def test_snapshot_replaces_previous_mirror() -> None:
    mirror = mirror_of(element(10, "p"))
    mirror.load_snapshot(document([element(20, "div")]))
    assert 10 not in mirror.nodes and 20 in mirror.nodes


def test_only_useful_attributes_are_kept() -> None:
    attrs = {"id": "go", "class": "btn primary", "style": "color: red", "data-x": "1",
             "aria-label": "Go", "href": "/x", "role": "button", "title": "Go now"}
    mirror = mirror_of(element(10, "BUTTON", attrs))
    node = mirror.nodes[10]
    assert node.tag == "button"
    assert node.attrs == {"id": "go", "class": "btn primary", "aria-label": "Go",
                          "role": "button", "title": "Go now"}


def test_style_and_script_text_is_not_stored() -> None:
    head = [element(8, "style", {}, text(9, "body { margin: 0 }", is_style=True))]
    body = [element(10, "script", {}, text(11, "var x = 1;"))]
    mirror = Mirror()
    mirror.load_snapshot(document(body, head=head))
    assert mirror.nodes[9].text == "" and mirror.nodes[11].text == ""


def test_add_appends_or_inserts_before_next_sibling() -> None:
    mirror = mirror_of(element(10, "ul", {}, element(11, "li"), element(12, "li")))
    mirror.apply_mutation({"adds": [add(10, element(13, "li"))]})
    mirror.apply_mutation({"adds": [add(10, element(14, "li"), next_id=12)]})
    assert children(mirror, 10) == [11, 14, 12, 13]


def test_add_with_unknown_next_sibling_appends() -> None:
    mirror = mirror_of(element(10, "ul", {}, element(11, "li")))
    mirror.apply_mutation({"adds": [add(10, element(12, "li"), next_id=999)]})
    assert children(mirror, 10) == [11, 12]


def test_added_subtree_is_mirrored_in_order() -> None:
    mirror = mirror_of(element(10, "div"))
    bold = element(22, "b", {}, text(23, "b"))
    subtree = element(20, "p", {}, text(21, "a"), bold, text(24, "c"))
    mirror.apply_mutation({"adds": [add(10, subtree)]})
    assert children(mirror, 20) == [21, 22, 24]
    assert mirror.text_of(10) == "a b c"


def test_add_under_unknown_parent_does_not_fail() -> None:
    mirror = mirror_of()
    assert mirror.apply_mutation({"adds": [add(999, element(30, "div"))]})
    assert mirror.nodes[30].parent == 999


def test_remove_prunes_the_whole_subtree() -> None:
    tree = element(10, "div", {}, element(11, "p", {}, text(12, "x")), element(13, "span"))
    mirror = mirror_of(tree, element(14, "footer"))
    mirror.apply_mutation({"removes": [remove(BODY_ID, 10)]})
    assert not {10, 11, 12, 13} & set(mirror.nodes)
    assert children(mirror, BODY_ID) == [14]


def test_remove_of_unknown_node_is_ignored() -> None:
    mirror = mirror_of(element(10, "div"))
    mirror.apply_mutation({"removes": [remove(BODY_ID, 999)]})
    assert 10 in mirror.nodes


def test_re_added_node_moves_with_its_children() -> None:
    mirror = mirror_of(element(10, "div", {}, element(11, "p", {}, text(12, "x"))),
                       element(20, "section"))
    mirror.apply_mutation({"adds": [add(20, element(11, "p"))]})
    assert children(mirror, 10) == [] and children(mirror, 20) == [11]
    assert children(mirror, 11) == [12] and mirror.nodes[11].parent == 20


def test_text_mutation_updates_text() -> None:
    mirror = mirror_of(element(10, "p", {}, text(11, "old")))
    mirror.apply_mutation({"texts": [set_text(11, "new")]})
    assert mirror.text_of(10) == "new"


def test_attribute_mutation_sets_and_removes_kept_attributes() -> None:
    mirror = mirror_of(element(10, "div", {"class": "a", "id": "x"}))
    mirror.apply_mutation({"attributes": [set_attrs(10, {"class": "b", "id": None,
                                                         "style": {"color": "red"}})]})
    assert mirror.nodes[10].attrs == {"class": "b"}


def test_empty_mutation_reports_no_change() -> None:
    mirror = mirror_of()
    assert not mirror.apply_mutation({"adds": [], "removes": [], "texts": [], "attributes": []})
    assert mirror.apply_mutation({"attributes": [set_attrs(BODY_ID, {"class": "busy"})]})


def test_text_of_collapses_whitespace_and_truncates() -> None:
    words = " ".join(f"word{i}" for i in range(30))
    mirror = mirror_of(element(10, "p", {}, text(11, "  Hello \n\n  "), element(12, "b", {},
                                                                             text(13, "world "))),
                       element(20, "div", {}, text(21, words)))
    assert mirror.text_of(10) == "Hello world"
    assert len(mirror.text_of(20)) <= 60 and mirror.text_of(20).startswith("word0 word1")


def test_text_of_skips_scripts_and_comments() -> None:
    mirror = mirror_of(element(10, "div", {}, comment(11, "note"),
                               element(12, "script", {}, text(13, "alert(1)")), text(14, "Shown")))
    assert mirror.text_of(10) == "Shown"


def test_secret_fields_are_known_from_snapshot_and_mutations() -> None:
    mirror = mirror_of(element(10, "input", {"type": "password"}),
                       element(11, "input", {"type": "text", "name": "q"}))
    assert mirror.is_secret(10) and not mirror.is_secret(11)
    field = element(12, "input", {"autocomplete": "cc-csc"})
    mirror.apply_mutation({"adds": [add(BODY_ID, field)]})
    assert mirror.is_secret(12)


def test_secret_stays_secret_when_a_password_is_revealed() -> None:
    mirror = mirror_of(element(10, "input", {"type": "password"}))
    mirror.apply_mutation({"attributes": [set_attrs(10, {"type": "text"})]})
    assert mirror.nodes[10].attrs["type"] == "text"
    assert mirror.is_secret(10)


def test_field_becoming_secret_through_attribute_mutation() -> None:
    mirror = mirror_of(element(10, "input", {"type": "text"}))
    mirror.apply_mutation({"attributes": [set_attrs(10, {"type": "password"})]})
    assert mirror.is_secret(10)


def test_text_fields_are_recognised() -> None:
    mirror = mirror_of(element(10, "input", {}), element(11, "input", {"type": "email"}),
                       element(12, "input", {"type": "checkbox"}),
                       element(13, "input", {"type": "submit"}), element(14, "textarea"),
                       element(15, "select"), element(16, "button"))
    fields = {node_id for node_id in range(10, 17) if mirror.is_text_field(mirror.nodes[node_id])}
    assert fields == {10, 11, 14, 15}


def test_button_input_value_is_kept_as_label() -> None:
    mirror = mirror_of(element(10, "input", {"type": "submit", "value": "Send"}),
                       element(11, "input", {"type": "text", "value": "typed"}))
    assert mirror.nodes[10].attrs["value"] == "Send"
    assert "value" not in mirror.nodes[11].attrs


def test_mirror_round_trips_through_msgpack() -> None:
    mirror = mirror_of(element(10, "input", {"type": "password", "id": "pw"}),
                       element(11, "p", {}, text(12, "hello")))
    data = msgspec.msgpack.encode(mirror)
    again = msgspec.msgpack.decode(data, type=Mirror)
    assert again == mirror
    again.apply_mutation({"removes": [remove(BODY_ID, 11)]})
    assert 12 not in again.nodes and again.is_secret(10)
