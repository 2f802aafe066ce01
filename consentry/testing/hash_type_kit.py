"""Conformance checks every registered hash type must pass (in the spirit of pytx's
``SignalTypeAutoTest``): tests/test_hash_types.py runs them over the whole catalogue, so a new
hash type is tested the moment its module exists.
"""

from __future__ import annotations

from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import HashType, HashValueError

# Values no hash type may accept.
BAD_VALUES = ("", "   ", "not a hash", "zz" * 32, "0" * 63, "0" * 65, "[]", '["x,1,0"]', "\x00" * 64)


def check_examples_round_trip(htype: type[HashType]) -> None:
    examples = htype.examples()
    assert examples, f"{htype.__name__} has no examples"
    for value in examples:
        canonical = htype.parse(value)
        assert canonical == value, f"{htype.__name__}: an example is not canonical: {value[:80]}"
        assert htype.parse(canonical) == canonical  # parsing is idempotent
        assert htype.parse(f"  {value.upper()}  ") == canonical  # case and spaces do not matter
        assert htype.distance(canonical, canonical) == 0
        assert htype.matches(canonical, canonical)
        key = htype.value_key(canonical)
        assert isinstance(key, str) and 0 < len(key) <= 64  # fits BankEntry.value_key
        assert htype.index_keys(canonical), "every value is findable in its index"


def check_bad_input_raises_typed_error(htype: type[HashType]) -> None:
    for value in BAD_VALUES:
        try:
            htype.parse(value)
        except HashValueError as exc:
            assert exc.hash_type == htype.name and str(exc)
        else:
            raise AssertionError(f"{htype.__name__} accepted {value!r}")


def check_names_resolve(htype: type[HashType]) -> None:
    assert htype.name == htype.name.lower() and " " not in htype.name
    for name in (htype.name, *htype.aliases, htype.name.upper(), f" {htype.name} "):
        assert catalogue.get(name) is htype
    assert catalogue.get(htype.exchange_name()) is htype  # what we export, we import
    for media in htype.media:
        assert catalogue.get(htype.exchange_name(media)) is htype


def check_item_json(htype: type[HashType]) -> None:
    """An item with no hashes gives none; the values it gives are canonical."""
    assert htype.from_item({}) == []
    assert htype.bank_values({}) == []


CHECKS = (check_examples_round_trip, check_bad_input_raises_typed_error, check_names_resolve,
          check_item_json)


def all_types() -> tuple[type[HashType], ...]:
    return catalogue.all_types()
