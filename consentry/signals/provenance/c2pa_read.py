"""Read C2PA Content Credentials with c2pa-python (offline: no remote manifests, no OCSP).

Validation state follows the C2PA SDK: ``invalid`` (a hash or signature check failed, e.g. the
pixels changed after signing), ``valid`` (intact and well formed, but the signer is not in our
trust list), ``trusted`` (valid and chained to an anchor the operator configured with
``CONSENTRY_C2PA_TRUST_ANCHORS``), or ``absent`` (no manifest).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TRUST_ANCHORS_ENV = "CONSENTRY_C2PA_TRUST_ANCHORS"  # path to a PEM bundle of trusted roots
AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


def make_context(trust_anchors_pem: str | None = None) -> Any:
    import c2pa

    settings: dict[str, Any] = dict(_OFFLINE)
    if trust_anchors_pem is None and (path := os.environ.get(TRUST_ANCHORS_ENV)):
        trust_anchors_pem = Path(path).read_text(encoding="utf-8")
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": trust_anchors_pem}
    return c2pa.Context.from_dict(settings)


def source_types(manifest: dict[str, Any]) -> list[str]:
    found = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if source := action.get("digitalSourceType"):
                found.append(str(source))
    return found


def is_ai_source(source_type: str) -> bool:
    return source_type.rsplit("/", 1)[-1] in AI_SOURCE_TYPES


def _generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info") or []
    if info:
        first = info[0]
        return " ".join(str(first[k]) for k in ("name", "version") if first.get(k)) or None
    return manifest.get("claim_generator")


def read_c2pa(path: Path, context: Any) -> dict[str, Any]:
    import c2pa

    try:
        reader = c2pa.Reader.try_create(str(path), context=context)
    except c2pa.C2paError as exc:
        text = str(exc)
        if "NotSupported" in type(exc).__name__ or "not supported" in text.lower():
            return {"validation_state": "absent", "supported": False}
        # A manifest that cannot even be parsed is a failed validation, not an absent one.
        return {"validation_state": "invalid", "error": text[:300], "ai_generated": False}
    if reader is None:
        return {"validation_state": "absent"}
    with reader:
        store = json.loads(reader.json())
        state = (reader.get_validation_state() or "invalid").lower()
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest") or "") or {}
    sources = source_types(active)
    ingredient_sources = [s for label, m in manifests.items() if label != store.get("active_manifest")
                          for s in source_types(m)]
    signature = active.get("signature_info") or {}
    failures = [s.get("code") for s in store.get("validation_status") or []
                if s.get("code") != "signingCredential.untrusted"]
    return {
        "validation_state": state if state in ("invalid", "valid", "trusted") else "invalid",
        "signer": {"common_name": signature.get("common_name"), "issuer": signature.get("issuer"),
                   "alg": signature.get("alg"), "time": signature.get("time")},
        "claim_generator": _generator(active),
        "ai_generated": any(is_ai_source(s) for s in sources),
        "ai_generated_ingredient": any(is_ai_source(s) for s in ingredient_sources),
        "digital_source_types": sorted(set(sources)),
        "failures": failures[:20],
        "n_manifests": len(manifests),
    }
