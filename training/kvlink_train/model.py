"""The student: the frozen base decoder (dequantized from the GGUF the runtime converts) with LoRA on every
projection and trainable input-only embedding rows for the link tokens and memory markers; the teacher is the
same base with the adapter disabled. Masks follow layout.py (the engine's rule)."""
from __future__ import annotations

import math

import torch
from torch import nn

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_base(gguf_dir: str, gguf_file: str, device: str):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32, attn_implementation="sdpa")
    model.to(device)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def add_lora(model, rank: int, alpha: float):
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=LORA_TARGETS, bias="none")
    return get_peft_model(model, cfg)


class ExtraEmbeddings(nn.Module):
    """Rows for token ids vocab_size … vocab_size + n − 1 (never emitted by the LM head)."""

    def __init__(self, base_embedding: torch.Tensor, num_rows: int, seed: int):
        super().__init__()
        g = torch.Generator(device="cpu").manual_seed(seed)
        mean = base_embedding.float().mean(0).cpu()
        std = base_embedding.float().std(0).mean().item()
        init = mean[None, :] + 0.05 * std * torch.randn(num_rows, base_embedding.shape[1], generator=g)
        self.rows = nn.Parameter(init.to(base_embedding.device))


def embed(model, extra: ExtraEmbeddings | None, ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    table = model.get_input_embeddings()
    if extra is None:
        return table(ids)
    is_extra = ids >= vocab_size
    base = table(torch.where(is_extra, torch.zeros_like(ids), ids))
    rows = extra.rows[torch.where(is_extra, ids - vocab_size, torch.zeros_like(ids))]
    return torch.where(is_extra[..., None], rows.to(base.dtype), base)


def block_mask(seg: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B,1,S,S] bool, True = may attend: j <= i and (seg[i] == 0 or seg[j] == seg[i]), keys valid; padded rows
    see themselves only (a fully masked row gives NaN in some SDPA kernels)."""
    b, s = seg.shape
    causal = torch.ones(s, s, dtype=torch.bool, device=seg.device).tril()
    same = seg[:, :, None] == seg[:, None, :]
    fresh = (seg == 0)[:, :, None]
    ok = causal[None] & (fresh | same) & valid[:, None, :] & valid[:, :, None]
    eye = torch.eye(s, dtype=torch.bool, device=seg.device)[None]
    ok = ok | (eye & ~valid[:, :, None])
    return ok[:, None]


def cosine_lr(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
