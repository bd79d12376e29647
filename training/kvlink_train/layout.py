"""The KVLink prompt layout and attention rule, in plain Python (no torch), mirroring the engine exactly:
packages/core/src/link/LinkPlan.ts (planLink in "kvlink" / "full" mode, flattenLayout) and
packages/core/src/link/buildAttentionMask.ts (buildBlockMask). test/training/layout.test.ts runs this file
against the engine on the same requests and compares token ids, positions, segments and allowed pairs.

A packed example holds the pieces the engine's buildPromptLayout produces: `prefix` (template, system, user
header), `docs` (each document's token ids, tokenized alone) and `suffix` (question, end of turn, assistant
header). Positions are contiguous in layout order, so a token's index in the sequence is its position id.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class LinkTokens:
    """K link tokens per document slot (slot_ids[i] has K ids) and the memory markers around the block."""
    num_link_tokens: int
    slot_ids: list[list[int]]
    mem_start: int | None = None
    mem_end: int | None = None

    @staticmethod
    def from_kvlink_json(cfg: dict) -> "LinkTokens":
        return LinkTokens(cfg["numLinkTokens"], cfg["linkTokenIds"], cfg.get("memStartTokenId"), cfg.get("memEndTokenId"))


def linked_layout(prefix: list[int], docs: list[list[int]], suffix: list[int], links: LinkTokens) -> tuple[list[int], list[int]]:
    """Token ids and segment ids in position order: 0 = fresh (system, markers, links, question, answer);
    k >= 1 = the tokens of the k-th placed (non-empty) document, which see only their own document."""
    ids: list[int] = list(prefix)
    seg: list[int] = [0] * len(prefix)
    if docs:
        if links.mem_start is not None:
            ids.append(links.mem_start)
            seg.append(0)
        placed = 0
        for slot, doc in enumerate(docs):
            if doc:
                placed += 1
                ids.extend(doc)
                seg.extend([placed] * len(doc))
            if links.num_link_tokens > 0:
                if slot >= len(links.slot_ids):
                    raise ValueError(f"document slot {slot} has no link tokens (at most {len(links.slot_ids)} documents)")
                slot_ids = links.slot_ids[slot]
                assert len(slot_ids) == links.num_link_tokens
                ids.extend(slot_ids)
                seg.extend([0] * len(slot_ids))
        if links.mem_end is not None:
            ids.append(links.mem_end)
            seg.append(0)
    ids.extend(suffix)
    seg.extend([0] * len(suffix))
    return ids, seg


def full_layout(prefix: list[int], docs: list[list[int]], suffix: list[int]) -> list[int]:
    """The ordinary prompt (mode "full"): every token fresh, causal, no link tokens or markers."""
    out = list(prefix)
    for d in docs:
        out.extend(d)
    out.extend(suffix)
    return out


def allowed(seg: list[int], i: int, j: int) -> bool:
    """May the token at position i attend to the token at position j? (buildBlockMask)"""
    return j <= i and (seg[i] == 0 or seg[j] == seg[i])


def allowed_pairs(seg: list[int]) -> list[list[int]]:
    """Row i lists the positions token i may attend to."""
    return [[j for j in range(i + 1) if allowed(seg, i, j)] for i in range(len(seg))]


if __name__ == "__main__":
    # stdin: {"prefix", "docs", "suffix", "kvlink": <kvlink.json>} → stdout: {"ids", "segments", "pairs", "full"}
    req = json.load(sys.stdin)
    links = LinkTokens.from_kvlink_json(req["kvlink"])
    ids, seg = linked_layout(req["prefix"], req["docs"], req["suffix"], links)
    json.dump({"ids": ids, "segments": seg, "pairs": allowed_pairs(seg), "full": full_layout(req["prefix"], req["docs"], req["suffix"])}, sys.stdout)
