"""Every registered hash type passes the conformance kit (consentry/testing/hash_type_kit.py),
and the catalogue holds the types and the names python-threatexchange uses for them."""

from __future__ import annotations

import pytest

from consentry.signals.hashing import catalogue
from consentry.signals.hashing.base import ExactLookup, UnknownHashType
from consentry.signals.hashing.mih import MIHIndex
from consentry.testing import hash_type_kit


@pytest.mark.parametrize("check", hash_type_kit.CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("htype", hash_type_kit.all_types(), ids=lambda t: t.name)
def test_conformance(htype, check) -> None:
    check(htype)


def test_catalogue_names_and_indexes() -> None:
    assert catalogue.names() == ("md5", "pdq", "sha256", "vpdq")
    for name, expected in [("video_md5", "md5"), ("photo_md5", "md5"), ("video_sha256", "sha256"),
                           ("photo_sha256", "sha256"), ("pdq_video", "vpdq"), ("PDQ", "pdq")]:
        assert catalogue.get(name).name == expected
    assert {t.name for t in catalogue.with_index(MIHIndex)} == {"pdq", "vpdq"}
    assert {t.name for t in catalogue.with_index(ExactLookup)} == {"md5", "sha256"}
    with pytest.raises(UnknownHashType, match="unknown signal type 'tmk'"):
        catalogue.get("tmk")


def test_vpdq_reads_both_serialisations() -> None:
    vpdq = catalogue.get("vpdq")
    h = "f" * 64
    pytx_style = f'["{h},100,0.0", "{h},90,12.3"]'  # pytx: ", " and 3 significant digits
    assert vpdq.parse(pytx_style) == f'["{h},100,0.000","{h},90,12.300"]'
    for bad in (f'["{h},101,0"]', f'["{h},100,-1"]', f'["{h},100,nan"]', f'["{h},x,0"]'):
        with pytest.raises(ValueError):
            vpdq.parse(bad)
