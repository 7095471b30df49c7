"""Ownership rules: globs and regexes, ANDed conditions, the catch-all, stop and order."""

from __future__ import annotations

from typing import Any

import pytest

from replayhub.config import ConfigError, OwnershipRule, load_settings
from replayhub.people import Owners, Subject, compile_rules, evaluate, owners_from, owners_of


def rules(*tables: dict[str, Any]) -> list[OwnershipRule]:
    return load_settings(ownership=list(tables)).ownership


CHECKOUT = Subject(apps=["app_1", "Shop"],
                   urls=["https://shop.example.com/", "https://shop.example.com/checkout/pay"],
                   errors=["f00d", "Cannot read properties of undefined (reading 'total')",
                           "TypeError: Cannot read properties of undefined (reading 'total')"],
                   tags=["beta", "EU"])


def test_a_glob_matches_the_whole_value_whatever_the_case() -> None:
    compiled = compile_rules(rules(
        {"name": "checkout", "match": {"url": "*/CHECKOUT/*"}, "owners": ["team:Payments"]},
        {"name": "admin pages", "match": {"url": "*/admin*"}, "owners": ["team:Back office"]},
        {"name": "prefix only", "match": {"url": "/checkout*"}, "owners": ["x@example.com"]}))
    assert owners_of(compiled, CHECKOUT) == Owners(["Payments"], [], ["checkout"])


def test_a_regex_is_searched_anywhere_case_insensitively() -> None:
    compiled = compile_rules(rules(
        {"name": "reading total", "match": {"error": r"re:reading '(total|sum)'"},
         "owners": ["Ada@Example.com"]},
        {"name": "anchored", "match": {"error": r"re:^reading"}, "owners": ["team:No"]},
        {"name": "typeerrors", "match": {"error": r"re:^typeerror:"}, "owners": ["team:JS"]}))
    assert owners_of(compiled, CHECKOUT) == Owners(["JS"], ["ada@example.com"],
                                                   ["reading total", "typeerrors"])


def test_conditions_are_anded_and_a_list_means_any_of() -> None:
    compiled = compile_rules(rules(
        {"name": "both", "match": {"app": "shop", "url": "*/checkout/*"}, "owners": ["team:A"]},
        {"name": "wrong app", "match": {"app": "Blog", "url": "*/checkout/*"},
         "owners": ["team:B"]},
        {"name": "any tag", "match": {"tags": ["alpha", "e?"]}, "owners": ["team:C"]}))
    results = evaluate(compiled, CHECKOUT)
    assert [r.matched for r in results] == [True, False, True]
    wrong = results[1]
    assert [(c.key, c.matched) for c in wrong.conditions] == [
        ("app", None), ("url", "https://shop.example.com/checkout/pay")]
    assert results[2].conditions[0].matched == "EU"


def test_an_empty_match_is_a_catch_all_even_for_an_empty_subject() -> None:
    compiled = compile_rules(rules(
        {"name": "checkout", "match": {"url": "*checkout*"}, "owners": ["team:Payments"]},
        {"name": "everything else", "owners": ["team:Web"]}))
    assert owners_of(compiled, Subject()) == Owners(["Web"], [], ["everything else"])
    assert owners_of(compiled, CHECKOUT).teams == ["Payments", "Web"]


def test_stop_ends_the_search_and_later_rules_are_reported_untried() -> None:
    compiled = compile_rules(rules(
        {"name": "not this", "match": {"app": "blog"}, "stop": True, "owners": ["team:Blog"]},
        {"name": "checkout", "match": {"url": "*checkout*"}, "stop": True,
         "owners": ["team:Payments", "lead@example.com"]},
        {"name": "fallback", "owners": ["team:Web"]}))
    results = evaluate(compiled, CHECKOUT)
    assert [(r.name, r.matched, r.tried) for r in results] == [
        ("not this", False, True), ("checkout", True, True), ("fallback", False, False)]
    assert owners_from(results) == Owners(["Payments"], ["lead@example.com"], ["checkout"])


def test_rules_keep_their_order_and_owners_are_listed_once() -> None:
    compiled = compile_rules(rules(
        {"name": "second team first", "owners": ["team:B", "team:A"]},
        {"name": "again", "match": {"app": "shop"}, "owners": ["team:A", "team:C"]}))
    assert owners_of(compiled, CHECKOUT) == Owners(["B", "A", "C"], [],
                                                   ["second team first", "again"])


def test_a_bad_regex_is_refused_at_load_naming_the_rule() -> None:
    with pytest.raises(ConfigError, match=r"ownership rule 'broken checkout'.*match\.url"):
        rules({"name": "broken checkout", "match": {"url": "re:/checkout/(["},
               "owners": ["team:Payments"]})


def test_an_owner_must_be_a_team_or_an_email() -> None:
    with pytest.raises(ConfigError, match=r"ownership rule 'r'.*'payments'"):
        rules({"name": "r", "owners": ["payments"]})
    with pytest.raises(ConfigError, match="ownership rule 'r'"):
        rules({"name": "r", "owners": ["team:"]})


def test_unknown_match_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="page"):
        rules({"name": "r", "match": {"page": "/x"}, "owners": ["team:A"]})


def test_rules_read_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "replayhub.toml"
    path.write_text('[[ownership]]\nname = "checkout"\nmatch = { url = "*/checkout*", '
                    'app = "re:^shop$" }\nowners = ["team:Payments"]\nstop = true\n')
    [rule] = load_settings(str(path)).ownership
    assert isinstance(rule, OwnershipRule) and rule.stop
    assert rule.match.patterns() == {"app": ["re:^shop$"], "url": ["*/checkout*"]}
