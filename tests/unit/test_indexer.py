"""The indexer finds pages, actions, errors and frustration signals, batch by batch."""

import copy
import re

import pytest
from rrweb_events import (
    BODY_ID,
    T0,
    add,
    click,
    console,
    contextmenu,
    dblclick,
    document,
    element,
    focus,
    full_snapshot,
    identify,
    input_event,
    js_error,
    kinds,
    load,
    merge,
    meta,
    mouse,
    mouse_move,
    mutation,
    navigation,
    network_error,
    scroll,
    set_attrs,
    set_text,
    text,
    typing,
)

from replayhub.ingest.indexer import (
    BatchResult,
    IndexState,
    decode_state,
    encode_state,
    fingerprint_error,
    finish,
    first_frame,
    new_state,
    normalize_message,
    process_batch,
)

URL = "https://shop.example.test/cart"
OTHER = "https://shop.example.test/checkout"
CHROME_STACK = (
    "TypeError: Cannot read properties of undefined (reading 'total')\n"
    "    at payNow (https://shop.example.test/static/app.js?v=3:27:32)\n"
    "    at HTMLButtonElement.onclick (https://shop.example.test/cart:1:1)"
)


def page() -> list[dict]:
    """A cart page: buttons, a dead button, a form and some text."""
    return [
        element(10, "button", {"id": "place-order", "class": "btn primary"},
                text(11, " Place\n  order ")),
        element(12, "button", {"class": "btn ghost big extra"},
                element(13, "span", {"class": "icon"}), element(14, "span", {}, text(15, "Apply"))),
        element(16, "input", {"type": "text", "name": "coupon", "placeholder": "Coupon code"}),
        element(17, "input", {"type": "submit", "value": "Send", "name": "send"}),
        element(18, "select", {"name": "country", "aria-label": "Country"}),
        element(19, "textarea", {"name": "note"}),
        element(20, "input", {"type": "checkbox", "id": "gift", "name": "gift"}),
        element(21, "div", {"class": "promo"}, text(22, "x" * 100)),
        element(23, "label", {"class": "check"}, text(24, "Gift wrap")),
        element(25, "input", {"type": "radio", "name": "ship", "id": "fast"}),
        element(26, "input", {"type": "radio", "name": "ship", "id": "slow"}),
        element(27, "input", {"type": "password", "name": "pw"}),
        element(28, "a", {"id": "help"}, text(29, 'Say "hi"')),
    ]


def loaded(t: int = T0, url: str = URL) -> list[dict]:
    return load(t, url, page(), title="Cart")


def run(events: list[dict], *, done: bool = True) -> BatchResult:
    state = new_state()
    results = [process_batch(state, events)]
    if done:
        results.append(finish(state))
    return merge(results)


def grow(t: int) -> dict:
    """A visible DOM change at time t."""
    return mutation(t, attributes=[set_attrs(BODY_ID, {"class": f"changed-{t}"})])


# --- state ------------------------------------------------------------------------------


def test_new_state_round_trips() -> None:
    state = new_state()
    assert isinstance(state, IndexState)
    assert decode_state(encode_state(state)) == state


def test_busy_state_round_trips() -> None:
    state = new_state()
    process_batch(state, [*loaded(), click(T0 + 100, 10), meta(T0 + 200, OTHER)])
    data = encode_state(state)
    assert isinstance(data, bytes)
    again = decode_state(data)
    assert again == state
    assert again.bursts and again.pending_meta is not None


def test_empty_batch() -> None:
    result = process_batch(new_state(), [])
    assert result == BatchResult()
    assert result.first_ts is None and result.viewport is None


def test_batch_bounds_viewport_and_user() -> None:
    events = [mouse_move(T0 + 50), *load(T0, URL, page()), identify(T0 + 9, "u1", "a@b.io", "Ada")]
    result = process_batch(new_state(), events)
    assert (result.first_ts, result.last_ts) == (T0, T0 + 50)
    assert result.viewport == (1280, 720)
    assert result.user == {"id": "u1", "email": "a@b.io", "name": "Ada"}


# --- page views -------------------------------------------------------------------------


def test_meta_with_snapshot_is_one_page_view_titled_from_the_snapshot() -> None:
    result = run(loaded())
    assert [(p.t, p.url, p.title) for p in result.pages] == [(T0, URL, "Cart")]


def test_reload_of_the_same_page_counts() -> None:
    result = run([*loaded(), *loaded(T0 + 5000)])
    assert [p.t for p in result.pages] == [T0, T0 + 5000]


def test_meta_alone_counts_only_for_a_new_href() -> None:
    result = run([*loaded(), meta(T0 + 100, URL), mouse_move(T0 + 200), meta(T0 + 300, OTHER),
                  mouse_move(T0 + 400)])
    assert [(p.url, p.title) for p in result.pages] == [(URL, "Cart"), (OTHER, "")]


def test_spa_navigation_counts_unless_same_href() -> None:
    result = run([*loaded(), navigation(T0 + 100, URL, "Cart"),
                  navigation(T0 + 200, OTHER, "Checkout"), navigation(T0 + 300, OTHER, "Again")])
    assert [(p.t, p.url, p.title) for p in result.pages] == [
        (T0, URL, "Cart"), (T0 + 200, OTHER, "Checkout")]


def test_meta_and_snapshot_split_across_batches() -> None:
    state = new_state()
    first = process_batch(state, [meta(T0, URL)])
    assert first.pages == []
    state = decode_state(encode_state(state))
    second = process_batch(state, [full_snapshot(T0 + 1, document(page(), "Cart"))])
    assert [(p.t, p.url, p.title) for p in second.pages] == [(T0, URL, "Cart")]


def test_pending_meta_is_flushed_by_finish() -> None:
    state = new_state()
    process_batch(state, [*loaded(), meta(T0 + 100, OTHER)])
    assert [p.url for p in finish(state).pages] == [OTHER]
    assert finish(state) == BatchResult()


def test_actions_carry_the_current_page() -> None:
    result = run([*loaded(), click(T0 + 10, 10), navigation(T0 + 20, OTHER), click(T0 + 30, 10)])
    assert [a.url for a in result.actions] == [URL, OTHER]


# --- actions ------------------------------------------------------------------------------


def test_click_on_a_button_with_id() -> None:
    action = run([*loaded(), click(T0 + 10, 10)]).actions[0]
    assert action.kind == "click"
    assert action.selector == 'button#place-order "Place order"'
    assert (action.tag, action.element_id, action.classes, action.text) == (
        "button", "place-order", "btn primary", "Place order")


def test_click_inside_a_button_resolves_to_the_button() -> None:
    action = run([*loaded(), click(T0 + 10, 15 - 1)]).actions[0]
    assert action.tag == "button"
    assert action.selector == 'button.btn.ghost "Apply"'
    assert action.classes == "btn ghost big extra"


def test_click_on_plain_element_keeps_it_and_truncates_text() -> None:
    action = run([*loaded(), click(T0 + 10, 21)]).actions[0]
    assert action.tag == "div" and action.text == "x" * 60
    assert action.selector == f'div.promo "{"x" * 60}"'


def test_quotes_in_text_are_escaped() -> None:
    action = run([*loaded(), click(T0 + 10, 28)]).actions[0]
    assert action.selector == 'a#help "Say \\"hi\\""'


def test_fields_are_named_by_label_never_by_value() -> None:
    events = [*loaded(), click(T0 + 10, 16), input_event(T0 + 20, 16, "SPRING25"),
              click(T0 + 30, 17), click(T0 + 40, 18), click(T0 + 50, 19)]
    actions = run(events).actions
    assert [(a.kind, a.selector, a.text) for a in actions] == [
        ("click", 'input[name=coupon] "Coupon code"', "Coupon code"),
        ("input", 'input[name=coupon] "Coupon code"', "Coupon code"),
        ("click", 'input[name=send] "Send"', "Send"),
        ("click", 'select[name=country] "Country"', "Country"),
        ("click", "textarea[name=note]", "note"),
    ]
    assert all("SPRING25" not in repr(a) for a in actions)


def test_click_on_unknown_node() -> None:
    action = run([*loaded(), click(T0 + 10, 999)]).actions[0]
    assert (action.kind, action.selector, action.tag, action.text) == ("click", "", "", "")


def test_dblclick_and_contextmenu_are_actions_other_mouse_events_are_not() -> None:
    events = [*loaded(), mouse(T0 + 10, 0, 10), mouse(T0 + 11, 1, 10), focus(T0 + 12, 16),
              dblclick(T0 + 20, 10), contextmenu(T0 + 30, 10), mouse(T0 + 40, 7, 10)]
    assert [a.kind for a in run(events).actions] == ["dblclick", "contextmenu"]


def test_typing_in_one_field_is_one_input_action_at_the_first_keystroke() -> None:
    events = [*loaded(), *typing(T0 + 100, 16, "SPRING25"), mouse_move(T0 + 150)]
    actions = run(events).actions
    assert [(a.kind, a.t) for a in actions] == [("input", T0 + 100)]


def test_input_runs_break_on_other_field_and_on_clicks() -> None:
    events = [*loaded(), *typing(T0 + 100, 16, "ab"), *typing(T0 + 200, 19, "cd"),
              *typing(T0 + 300, 16, "ef"), click(T0 + 400, 10), *typing(T0 + 500, 16, "gh")]
    actions = run(events).actions
    assert [(a.kind, a.t) for a in actions] == [
        ("input", T0 + 100), ("input", T0 + 200), ("input", T0 + 300), ("click", T0 + 400),
        ("input", T0 + 500)]


def test_input_run_continues_across_batches() -> None:
    state = new_state()
    first = process_batch(state, [*loaded(), *typing(T0 + 100, 16, "abc")])
    second = process_batch(decode_state(encode_state(state)), typing(T0 + 300, 16, "abcdef"))
    assert len(first.actions) == 1 and second.actions == []


def test_programmatic_and_radio_sibling_inputs_are_not_actions() -> None:
    events = [*loaded(), input_event(T0 + 10, 16, "auto", user=False),
              input_event(T0 + 20, 25, "on", checked=True),
              input_event(T0 + 21, 26, "on", checked=False)]
    actions = run(events).actions
    assert [(a.kind, a.element_id) for a in actions] == [("input", "fast")]


# --- errors -------------------------------------------------------------------------------


def test_custom_error_record() -> None:
    events = [*loaded(), js_error(T0 + 10, "Cannot read properties of undefined (reading 'x')",
                                  stack=CHROME_STACK, url=URL + "/app.js")]
    error = run(events).errors[0]
    assert (error.t, error.type, error.source, error.url) == (
        T0 + 10, "TypeError", "custom", URL + "/app.js")
    assert error.stack == CHROME_STACK
    assert re.fullmatch(r"[0-9a-f]{16}", error.fingerprint)


def test_custom_error_without_url_uses_the_page() -> None:
    assert run([*loaded(), js_error(T0 + 10, "boom")]).errors[0].url == URL


def test_console_errors_only_and_uncaught_duplicates_skipped() -> None:
    trace = ["HTMLButtonElement.<anonymous> (https://shop.example.test/cart:26:13)", "x (y.js:1:2)"]
    events = [*loaded(), console(T0 + 10, "warn", "careful"),
              console(T0 + 20, "error", "payment failed", {"code": 7}, trace=trace),
              console(T0 + 30, "error", "Uncaught TypeError: boom"),
              console(T0 + 40, "log", "hello")]
    errors = run(events).errors
    assert len(errors) == 1
    error = errors[0]
    assert (error.type, error.source, error.url) == ("console.error", "console", URL)
    assert error.message == 'payment failed {"code": 7}'
    assert error.stack == "\n".join(trace)


def test_network_errors() -> None:
    events = [*loaded(),
              network_error(T0 + 10, "post", "https://shop.example.test/api/orders?x=1", 500,
                            "Internal Server Error"),
              network_error(T0 + 20, "GET", "/api/cart", 0, "Failed to fetch")]
    errors = run(events).errors
    assert [(e.type, e.source, e.message) for e in errors] == [
        ("NetworkError", "network", "POST /api/orders failed: 500"),
        ("NetworkError", "network", "GET /api/cart failed: Failed to fetch")]
    assert errors[0].url == "https://shop.example.test/api/orders?x=1"


def test_normalize_message() -> None:
    message = ("Order 12345 for user 3fa85f64-5717-4562-b3fc-2c963f66afa6 with id 5f2b9c0a1e "
               "failed at https://api.example.test/orders?token=abc&x=1 "
               "'a very long quoted string value here' 'short'")
    assert normalize_message(message) == (
        "Order <n> for user <uuid> with id <hex> failed at https://api.example.test/orders?<query> "
        "<string> 'short'")


@pytest.mark.parametrize(("stack", "frame"), [
    (CHROME_STACK, ("payNow", "https://shop.example.test/static/app.js")),
    ("payNow@https://shop.example.test/app.js:27:32\nx@y.js:1:1",
     ("payNow", "https://shop.example.test/app.js")),
    ("HTMLButtonElement.<anonymous> (https://shop.example.test/cart:26:13)",
     ("HTMLButtonElement.<anonymous>", "https://shop.example.test/cart")),
    ("Error: x\n    at https://shop.example.test/app.js:3:4", ("", "https://shop.example.test/app.js")),
    ("Error: x\n    at async load (https://shop.example.test/app.js:3:4)",
     ("load", "https://shop.example.test/app.js")),
    ("", ("", "")),
    ("just a message", ("", "")),
])
def test_first_frame(stack: str, frame: tuple[str, str]) -> None:
    assert first_frame(stack) == frame


def test_same_error_in_two_sessions_has_one_fingerprint() -> None:
    one = fingerprint_error("TypeError", "Order 123 not found (id 5f2b9c0a1e)", CHROME_STACK)
    two = fingerprint_error("TypeError", "Order 98765 not found (id 0a9c7b7d11)",
                            CHROME_STACK.replace(":27:32", ":31:7").replace("v=3", "v=4"))
    assert one == two
    assert re.fullmatch(r"[0-9a-f]{16}", one)


def test_different_errors_have_different_fingerprints() -> None:
    base = fingerprint_error("TypeError", "x is undefined", CHROME_STACK)
    assert fingerprint_error("RangeError", "x is undefined", CHROME_STACK) != base
    assert fingerprint_error("TypeError", "y is undefined", CHROME_STACK) != base
    assert fingerprint_error("TypeError", "x is undefined",
                             CHROME_STACK.replace("payNow", "checkout")) != base


# --- rage clicks --------------------------------------------------------------------------


def burst(start: int, node_id: int, count: int, step: int = 150) -> list[dict]:
    return [click(start + i * step, node_id) for i in range(count)]


def test_three_clicks_within_a_second_are_one_rage_click() -> None:
    events = [*loaded(), *burst(T0 + 100, 10, 3), grow(T0 + 500)]
    result = run(events)
    rage = [s for s in result.frustrations if s.kind == "rage_click"]
    assert len(rage) == 1
    assert (rage[0].t, rage[0].clicks, rage[0].selector, rage[0].url) == (
        T0 + 100, 3, 'button#place-order "Place order"', URL)
    assert kinds(result) == ["rage_click"]


def test_two_clicks_are_not_rage() -> None:
    assert kinds(run([*loaded(), *burst(T0 + 100, 10, 2), grow(T0 + 400)])) == []


def test_one_signal_per_burst_with_every_click_counted() -> None:
    result = run([*loaded(), *burst(T0 + 100, 10, 7, step=100), grow(T0 + 900)])
    assert [(s.kind, s.clicks) for s in result.frustrations] == [("rage_click", 7)]


def test_slow_clicks_are_not_rage() -> None:
    events = [*loaded(), *burst(T0 + 100, 10, 4, step=600)]
    events += [grow(T0 + 100 + i * 600 + 50) for i in range(4)]
    events.sort(key=lambda e: e["timestamp"])
    assert kinds(run(events)) == []


def test_clicks_on_different_targets_are_not_rage() -> None:
    events = [*loaded(), click(T0 + 100, 10), click(T0 + 200, 12), click(T0 + 300, 10),
              grow(T0 + 400)]
    assert kinds(run(events)) == []


def test_clicks_on_parts_of_one_button_are_one_target() -> None:
    events = [*loaded(), click(T0 + 100, 13), click(T0 + 200, 14), click(T0 + 300, 15),
              grow(T0 + 400)]
    assert kinds(run(events)) == ["rage_click"]


def test_two_separate_bursts_give_two_rage_clicks() -> None:
    events = [*loaded(), *burst(T0 + 100, 10, 3), grow(T0 + 450), *burst(T0 + 3000, 10, 4),
              grow(T0 + 3500)]
    result = run(events)
    assert [(s.kind, s.t, s.clicks) for s in result.frustrations] == [
        ("rage_click", T0 + 100, 3), ("rage_click", T0 + 3000, 4)]


def test_rage_on_a_dead_button_is_one_rage_and_one_dead() -> None:
    result = run([*loaded(), *burst(T0 + 100, 10, 5, step=125)])
    assert [(s.kind, s.t, s.clicks) for s in result.frustrations] == [
        ("rage_click", T0 + 100, 5), ("dead_click", T0 + 100, 5)]


# --- dead clicks --------------------------------------------------------------------------


def test_click_without_effect_is_dead() -> None:
    result = run([*loaded(), click(T0 + 100, 10), mouse_move(T0 + 500)])
    assert [(s.kind, s.t, s.clicks) for s in result.frustrations] == [("dead_click", T0 + 100, 1)]


def test_click_with_a_dom_change_is_not_dead() -> None:
    events = [*loaded(), click(T0 + 100, 10),
              mutation(T0 + 600, adds=[add(BODY_ID, element(90, "div", {"class": "spinner"}))])]
    assert kinds(run(events)) == []


@pytest.mark.parametrize("change", [
    mutation(T0 + 300, texts=[set_text(11, "Placing...")]),
    mutation(T0 + 300, removes=[{"parentId": BODY_ID, "id": 21}]),
    mutation(T0 + 1100, attributes=[set_attrs(10, {"disabled": ""})]),
    navigation(T0 + 300, OTHER),
    meta(T0 + 300, OTHER),
])
def test_any_change_or_navigation_within_a_second_saves_the_click(change: dict) -> None:
    assert kinds(run([*loaded(), click(T0 + 100, 10), change])) == []


def test_change_after_the_window_does_not_save_the_click() -> None:
    assert kinds(run([*loaded(), click(T0 + 100, 10), grow(T0 + 1101)])) == ["dead_click"]


def test_empty_mutation_and_scroll_are_no_effect() -> None:
    events = [*loaded(), click(T0 + 100, 10), mutation(T0 + 200), scroll(T0 + 300)]
    assert kinds(run(events)) == ["dead_click"]


def test_focusing_clicks_are_never_dead() -> None:
    events = [*loaded(), click(T0 + 100, 16), click(T0 + 1500, 18), click(T0 + 3000, 19),
              click(T0 + 4500, 23), click(T0 + 6000, 27)]
    assert kinds(run(events)) == []


def test_checkbox_that_toggles_is_not_dead() -> None:
    events = [*loaded(), click(T0 + 100, 20), input_event(T0 + 101, 20, "on", checked=True),
              click(T0 + 2000, 20)]
    result = run(events)
    assert [(s.kind, s.t) for s in result.frustrations] == [("dead_click", T0 + 2000)]


def test_one_dead_signal_per_burst_counting_dead_clicks() -> None:
    events = [*loaded(), click(T0 + 100, 10), grow(T0 + 150), click(T0 + 700, 10)]
    assert [(s.kind, s.t, s.clicks) for s in run(events).frustrations] == [
        ("dead_click", T0 + 700, 1)]


# --- error clicks -------------------------------------------------------------------------


def test_error_soon_after_a_click_is_an_error_click() -> None:
    events = [*loaded(), click(T0 + 100, 10), js_error(T0 + 400, "boom", stack=CHROME_STACK),
              js_error(T0 + 500, "again"), grow(T0 + 600)]
    result = run(events)
    assert kinds(result) == ["error_click"]
    signal = result.frustrations[0]
    assert (signal.t, signal.clicks, signal.selector) == (
        T0 + 100, 1, 'button#place-order "Place order"')
    assert signal.error_fingerprint == result.errors[0].fingerprint


@pytest.mark.parametrize("error", [
    network_error(T0 + 300, "POST", "/api/orders", 500),
    console(T0 + 300, "error", "payment failed"),
])
def test_every_kind_of_error_makes_an_error_click(error: dict) -> None:
    assert kinds(run([*loaded(), click(T0 + 100, 10), error, grow(T0 + 350)])) == ["error_click"]


def test_late_error_is_not_an_error_click() -> None:
    events = [*loaded(), click(T0 + 100, 10), grow(T0 + 200), js_error(T0 + 1101, "late")]
    assert kinds(run(events)) == []


def test_error_click_for_each_click() -> None:
    events = [*loaded(), click(T0 + 100, 10), click(T0 + 300, 12), js_error(T0 + 400, "boom"),
              grow(T0 + 450)]
    result = run(events)
    assert [(s.kind, s.t) for s in result.frustrations] == [
        ("error_click", T0 + 100), ("error_click", T0 + 300)]


def test_error_click_and_dead_click_can_both_happen() -> None:
    events = [*loaded(), click(T0 + 100, 10), js_error(T0 + 200, "boom")]
    assert sorted(kinds(run(events))) == ["dead_click", "error_click"]


# --- pending clicks across batches ----------------------------------------------------------


def test_click_at_end_of_batch_is_decided_by_the_next_batch() -> None:
    state = new_state()
    first = process_batch(state, [*loaded(), click(T0 + 100, 10)])
    assert first.frustrations == []
    state = decode_state(encode_state(state))
    second = process_batch(state, [mouse_move(T0 + 900)])
    assert second.frustrations == []
    state = decode_state(encode_state(state))
    third = process_batch(state, [mouse_move(T0 + 1200)])
    assert kinds(third) == ["dead_click"]
    assert finish(state) == BatchResult()


def test_change_in_next_batch_saves_the_pending_click() -> None:
    state = new_state()
    process_batch(state, [*loaded(), click(T0 + 100, 10)])
    state = decode_state(encode_state(state))
    assert process_batch(state, [grow(T0 + 300), mouse_move(T0 + 5000)]).frustrations == []


def test_error_in_next_batch_is_an_error_click() -> None:
    state = new_state()
    process_batch(state, [*loaded(), click(T0 + 100, 10)])
    state = decode_state(encode_state(state))
    result = process_batch(state, [js_error(T0 + 300, "boom"), grow(T0 + 301)])
    assert kinds(result) == ["error_click"]


def test_rage_burst_spanning_batches() -> None:
    state = new_state()
    first = process_batch(state, [*loaded(), *burst(T0 + 100, 10, 2)])
    state = decode_state(encode_state(state))
    second = process_batch(state, burst(T0 + 400, 10, 2))
    third = finish(decode_state(encode_state(state)))
    assert first.frustrations == [] and second.frustrations == []
    assert [(s.kind, s.clicks) for s in third.frustrations] == [
        ("rage_click", 4), ("dead_click", 4)]


def test_finish_decides_pending_clicks() -> None:
    state = new_state()
    process_batch(state, [*loaded(), click(T0 + 100, 10)])
    assert kinds(finish(state)) == ["dead_click"]
    assert state.bursts == []


# --- conservative mode ----------------------------------------------------------------------


def test_conservative_batch_still_indexes() -> None:
    events = [click(T0 + 100, 10), input_event(T0 + 200, 16, "plain"), js_error(T0 + 300, "x")]
    result = process_batch(new_state(), events, conservative=True)
    assert [a.kind for a in result.actions] == ["click", "input"]
    assert len(result.errors) == 1
    assert events[1]["data"]["text"] == "*****"


# --- one batch or many: same answers --------------------------------------------------------


def journey() -> list[dict]:
    """A session touching every rule, with things pending at many cut points."""
    events = [*loaded(), identify(T0 + 5, "u1", "ada@example.com", "Ada")]
    events += [click(T0 + 100, 16), *typing(T0 + 120, 16, "SPRING25", step=40)]
    events += [*burst(T0 + 1000, 12, 4, step=120)]
    events += [click(T0 + 2000, 10), js_error(T0 + 2200, "Order 5 failed", stack=CHROME_STACK),
               grow(T0 + 2300)]
    events += [click(T0 + 4000, 21), mouse_move(T0 + 4500), scroll(T0 + 4600)]
    events += [click(T0 + 5200, 17), network_error(T0 + 5300, "POST", "/api/orders", 502)]
    events += [console(T0 + 5400, "error", "payment failed", trace=["f (a.js:1:2)"])]
    events += [click(T0 + 7000, 10), navigation(T0 + 7100, OTHER, "Checkout")]
    events += [meta(T0 + 9000, OTHER), full_snapshot(T0 + 9001, document(page(), "Checkout"))]
    events += [*typing(T0 + 9100, 27, "hunter22"), click(T0 + 9500, 10), click(T0 + 9600, 10)]
    events += [meta(T0 + 12000, URL)]
    return events


def test_journey_finds_everything() -> None:
    result = run(copy.deepcopy(journey()))
    assert [p.url for p in result.pages] == [URL, OTHER, OTHER, URL]
    assert [a.kind for a in result.actions].count("click") == 11
    assert [e.source for e in result.errors] == ["custom", "network", "console"]
    assert [(s.kind, s.t - T0, s.clicks) for s in result.frustrations] == [
        ("error_click", 1240, 1), ("error_click", 1360, 1), ("error_click", 2000, 1),
        ("rage_click", 1000, 4), ("dead_click", 1000, 3), ("dead_click", 4000, 1),
        ("error_click", 5200, 1), ("dead_click", 5200, 1), ("dead_click", 9500, 2)]


def test_any_split_gives_the_same_result() -> None:
    events = journey()
    whole_events = copy.deepcopy(events)
    whole = run(whole_events)
    for cut in range(len(events) + 1):
        parts = copy.deepcopy(events)
        state = new_state()
        first = process_batch(state, parts[:cut])
        state = decode_state(encode_state(state))
        second = process_batch(state, parts[cut:])
        state = decode_state(encode_state(state))
        assert merge([first, second, finish(state)]) == whole, f"cut at {cut}"
        assert parts == whole_events, f"cut at {cut}"


def test_splitting_into_single_events_gives_the_same_result() -> None:
    events = journey()
    whole = run(copy.deepcopy(events))
    state = new_state()
    results = []
    for one in copy.deepcopy(events):
        results.append(process_batch(state, [one]))
        state = decode_state(encode_state(state))
    results.append(finish(state))
    assert merge(results) == whole
