"""KVLink fine-tuning of a small decoder: LoRA on every projection + trained link-token rows, mixed data.

Run on a GPU host (see training/README.md):
  python3 training/kvlink_train/train.py --gguf-dir /tmp/gguf --gguf-file model.gguf --data training/packed \
      --out $OUT --variants k5-distinct,k5-shared --steps 1200

Inputs (made by `npx tsx training/prepare/packTrainingData.ts`): train.jsonl.gz (mixed examples as prompt pieces,
see layout.py), dev.jsonl.gz (the harness's dev split, for the ablation table), meta.json (vocab, eos, and our
ONNX engine's logits on a reference prompt, to check the PyTorch model is the same model).
Outputs per variant: adapter-<variant>.safetensors (LoRA A/B + kvlink.extra_embeddings in fp16, rank/alpha and
the kvlink.json link config in the metadata) and one metrics.json for all variants, with the training log.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import random
import re
import string
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layout import LinkTokens, full_layout, linked_layout  # noqa: E402
from model import ExtraEmbeddings, add_lora, block_mask, cosine_lr, embed, load_base  # noqa: E402

LOG: list[dict] = []


def log(**kv):
    kv["t"] = round(time.time() - T0, 1)
    LOG.append(kv)
    print(json.dumps(kv), flush=True)


def read_jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf8") as f:
        return [json.loads(line) for line in f if line.strip()]


def link_config(variant: str, vocab: int, num_slots: int) -> tuple[LinkTokens, int]:
    """k<K>-distinct: slot i uses vocab + K·i + j (as the paper); k<K>-shared: every slot uses vocab + j."""
    m = re.fullmatch(r"k(\d+)-(distinct|shared)", variant)
    if not m:
        raise SystemExit(f"unknown variant {variant}")
    k, kind = int(m.group(1)), m.group(2)
    if kind == "distinct":
        slots = [[vocab + k * i + j for j in range(k)] for i in range(num_slots)]
        first_marker = vocab + k * num_slots
    else:
        slots = [[vocab + j for j in range(k)] for _ in range(64)]
        first_marker = vocab + k
    return LinkTokens(k, slots, first_marker, first_marker + 1), first_marker + 2 - vocab


# ---------------------------------------------------------------- batches


def student_sequence(ex, links: LinkTokens):
    """(ids, segments, first label index) of the student's sequence: prompt (linked or full) + response."""
    resp = ex["response"] or []
    if ex["kind"] == "text":
        ids = ex["prefix"]
        return ids, [0] * len(ids), 1
    if ex["layout"] == "linked" and ex["docs"]:
        ids, seg = linked_layout(ex["prefix"], ex["docs"], ex["suffix"], links)
    else:
        ids = full_layout(ex["prefix"], ex["docs"], ex["suffix"])
        seg = [0] * len(ids)
    return ids + resp, seg + [0] * len(resp), len(ids)


def teacher_sequence(ex):
    resp = ex["response"] or []
    if ex["kind"] == "text":
        return ex["prefix"], 1
    ids = full_layout(ex["prefix"], ex["docs"], ex["suffix"])
    return ids + resp, len(ids)


def pad(seqs, fill=0):
    n = max(len(s) for s in seqs)
    return [s + [fill] * (n - len(s)) for s in seqs], [[True] * len(s) + [False] * (n - len(s)) for s in seqs]


def make_batches(examples, token_budget: int, rng: random.Random):
    order = sorted(range(len(examples)), key=lambda i: examples[i]["_len"])
    batches, cur, cur_max = [], [], 0
    for i in order:
        n = examples[i]["_len"]
        if cur and max(cur_max, n) * (len(cur) + 1) > token_budget:
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(i)
        cur_max = max(cur_max, n)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def hidden_at(inner, ids, seg, valid, extra, vocab, rows, cols):
    """Final hidden states at (rows, cols) → LM head logits [N, V]."""
    pos = torch.arange(ids.shape[1], device=ids.device)[None].expand_as(ids)
    x = embed(inner, extra, ids, vocab)
    h = inner.model(inputs_embeds=x, attention_mask=block_mask(seg, valid), position_ids=pos, use_cache=False).last_hidden_state
    return inner.lm_head(h[rows, cols])


def batch_loss(peft_model, extra, batch, links, vocab, device):
    inner = peft_model.get_base_model()
    s_ids, s_seg, s_rows, s_cols, targets, weights_ce, weights_kl, ex_of = [], [], [], [], [], [], [], []
    t_ids, t_rows, t_cols = [], [], []
    for b, ex in enumerate(batch):
        ids, seg, first = student_sequence(ex, links)
        s_ids.append(ids)
        s_seg.append(seg)
        n_lab = len(ids) - first
        for k in range(n_lab):
            s_rows.append(b)
            s_cols.append(first - 1 + k)
            targets.append(ids[first + k])
            weights_ce.append(ex["ce"])
            weights_kl.append(ex["kl"])
            ex_of.append(b)
        tids, tfirst = teacher_sequence(ex)
        t_ids.append(tids)
        assert len(tids) - tfirst == n_lab, "student and teacher label spans differ"
        for k in range(n_lab):
            t_rows.append(len(t_ids) - 1)
            t_cols.append(tfirst - 1 + k)
    ids_p, valid = pad(s_ids)
    seg_p, _ = pad(s_seg)
    T = lambda x, dt=torch.long: torch.tensor(x, dtype=dt, device=device)  # noqa: E731
    ids_t, seg_t, valid_t = T(ids_p), T(seg_p), T(valid, torch.bool)
    rows, cols = T(s_rows), T(s_cols)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        logits = hidden_at(inner, ids_t, seg_t, valid_t, extra, vocab, rows, cols).float()
    logp = F.log_softmax(logits, -1)
    tgt = T(targets)
    ce = -logp.gather(1, tgt[:, None])[:, 0]
    w_ce, w_kl = T(weights_ce, torch.float32), T(weights_kl, torch.float32)
    kl = torch.zeros_like(ce)
    if float(w_kl.sum()) > 0:
        tp, tvalid = pad(t_ids)
        tz = torch.zeros_like(T(tp))
        with torch.no_grad(), peft_model.disable_adapter():
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                tlog = hidden_at(inner, T(tp), tz, T(tvalid, torch.bool), None, vocab, T(t_rows), T(t_cols)).float()
        tprob = F.softmax(tlog, -1)
        kl = (tprob * (torch.log(tprob.clamp_min(1e-12)) - logp)).sum(-1)
    # mean over label tokens, per example weighted
    loss = (w_ce * ce + w_kl * kl).sum() / max(1, len(targets))
    return loss, float(ce.mean()), float(kl.mean())


# ---------------------------------------------------------------- teacher responses


@torch.no_grad()
def generate_teacher(inner, examples, eos: int, device, batch_size=64):
    """Greedy answers of the base model with FULL attention for examples without a response (distill, chat)."""
    todo = [ex for ex in examples if ex["response"] is None and ex["kind"] != "text"]
    todo.sort(key=lambda ex: len(full_layout(ex["prefix"], ex["docs"], ex["suffix"])))
    for i in range(0, len(todo), batch_size):
        group = todo[i : i + batch_size]
        prompts = [full_layout(ex["prefix"], ex["docs"], ex["suffix"]) for ex in group]
        n = max(len(p) for p in prompts)
        ids = torch.tensor([[eos] * (n - len(p)) + p for p in prompts], device=device)
        att = torch.tensor([[0] * (n - len(p)) + [1] * len(p) for p in prompts], device=device)
        out = inner.generate(
            input_ids=ids, attention_mask=att, max_new_tokens=max(ex["max_new"] for ex in group), do_sample=False,
            eos_token_id=eos, pad_token_id=eos,
        )
        for ex, row in zip(group, out[:, n:].tolist()):
            resp = []
            for t in row[: ex["max_new"]]:
                resp.append(t)
                if t == eos:
                    break
            ex["response"] = resp
    return len(todo)


# ---------------------------------------------------------------- dev accuracy (simulated reuse, as KVLink's eval)


def normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


@torch.no_grad()
def dev_accuracy(peft_model, extra, dev, links, vocab, eos, decode, device, mode: str, use_adapter: bool, max_new=24, batch_size=50):
    inner = peft_model.get_base_model()
    correct, by_dataset = 0, {}
    ctx = peft_model.disable_adapter() if not use_adapter else contextlib.nullcontext()
    with ctx:
        for i in range(0, len(dev), batch_size):
            group = dev[i : i + batch_size]
            seqs, segs = [], []
            for ex in group:
                if mode == "kvlink":
                    ids, seg = linked_layout(ex["prefix"], ex["docs"], ex["suffix"], links)
                elif mode == "rerotate":
                    ids, seg = linked_layout(ex["prefix"], ex["docs"], ex["suffix"], LinkTokens(0, [], None, None))
                else:
                    ids = full_layout(ex["prefix"], ex["docs"], ex["suffix"])
                    seg = [0] * len(ids)
                seqs.append(list(ids))
                segs.append(list(seg))
            done = [False] * len(group)
            outs = [[] for _ in group]
            for _ in range(max_new):
                ids_p, valid = pad(seqs)
                seg_p, _ = pad(segs)
                last = torch.tensor([len(s) - 1 for s in seqs], device=device)
                rows = torch.arange(len(seqs), device=device)
                T = lambda x, dt=torch.long: torch.tensor(x, dtype=dt, device=device)  # noqa: E731
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                    logits = hidden_at(inner, T(ids_p), T(seg_p), T(valid, torch.bool), extra if use_adapter else None, vocab, rows, last)
                nxt = logits.float().argmax(-1).tolist()
                for b, t in enumerate(nxt):
                    if done[b]:
                        t = eos
                    if t == eos:
                        done[b] = True
                    else:
                        outs[b].append(t)
                    seqs[b].append(t)
                    segs[b].append(0)
                if all(done):
                    break
            for ex, o in zip(group, outs):
                text = decode(o)
                ok = any(normalize(a) in normalize(text) for a in ex["answer"])
                correct += ok
                d = by_dataset.setdefault(ex["dataset"], [0, 0])
                d[0] += ok
                d[1] += 1
    return correct / max(1, len(dev)), {k: v[0] / v[1] for k, v in by_dataset.items()}


# ---------------------------------------------------------------- checks


@torch.no_grad()
def check_block_mask(inner, extra, dev, links, vocab, device):
    """The 4D mask is honoured: a document's hidden states inside the linked layout equal the document encoded
    alone from position 0 (it sees only itself, and RoPE is relative)."""
    ex = next(e for e in dev if len(e["docs"]) >= 2)
    ids, seg = linked_layout(ex["prefix"], ex["docs"], ex["suffix"], links)
    k = 2
    start = seg.index(k)
    n = seg.count(k)
    T = lambda x, dt=torch.long: torch.tensor(x, dtype=dt, device=device)  # noqa: E731
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        h_all = inner.model(inputs_embeds=embed(inner, extra, T([ids]), vocab), attention_mask=block_mask(T([seg]), T([[True] * len(ids)], torch.bool)),
                            position_ids=T([list(range(len(ids)))]), use_cache=False).last_hidden_state[0, start : start + n]
        alone = ids[start : start + n]
        h_one = inner.model(input_ids=T([alone]), position_ids=T([list(range(n))]), use_cache=False).last_hidden_state[0]
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    diff = float((h_all - h_one).abs().max())
    scale = float(h_one.abs().max())
    return diff, scale


@torch.no_grad()
def check_reference_logits(inner, meta, device):
    ref = meta.get("reference")
    if not ref:
        return None
    ids = torch.tensor([ref["ids"]], device=device)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        logits = inner(input_ids=ids, use_cache=False).logits[0, -1].float()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = prev
    ours = torch.tensor(ref["topLogits"], device=device)
    theirs = logits[torch.tensor(ref["topIds"], device=device)]
    return {"maxAbsDiffTop": float((ours - theirs).abs().max()), "argmaxEqual": int(logits.argmax()) == ref["topIds"][0]}


# ---------------------------------------------------------------- save


def load_adapter_into(peft_model, extra, path: str):
    """Starts from a saved adapter (save_adapter's file): its LoRA A/B and link-token rows, cast to fp32."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    tensors = load_file(path)
    rows = tensors.pop("kvlink.extra_embeddings")
    if tuple(rows.shape) != tuple(extra.rows.shape):
        raise SystemExit(f"--init-adapter has {tuple(rows.shape)} link rows, this variant {tuple(extra.rows.shape)}")
    with torch.no_grad():
        extra.rows.copy_(rows.to(extra.rows.device, torch.float32))
    result = set_peft_model_state_dict(peft_model, {k: v.float() for k, v in tensors.items()})
    missing = [k for k in getattr(result, "missing_keys", []) if "lora_" in k]
    unexpected = list(getattr(result, "unexpected_keys", []))
    if missing or unexpected:
        raise SystemExit(f"--init-adapter does not fit this LoRA: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return len(tensors)


def save_adapter(peft_model, extra, links: LinkTokens, num_rows: int, path: str, rank: int, alpha: float, tasks: list[str]):
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    sd = get_peft_model_state_dict(peft_model)
    tensors = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in sd.items()}
    tensors["kvlink.extra_embeddings"] = extra.rows.detach().to(torch.float16).contiguous().cpu()
    kv = {"formatVersion": 1, "numLinkTokens": links.num_link_tokens, "linkTokenIds": links.slot_ids}
    if tasks != ["documents"]:
        kv["adapterTasks"] = tasks
    if links.mem_start is not None:
        kv["memStartTokenId"] = links.mem_start
        kv["memEndTokenId"] = links.mem_end
    save_file(tensors, path, metadata={"format": "pt", "r": str(rank), "lora_alpha": str(alpha), "kvlink": json.dumps(kv), "extra_rows": str(num_rows)})
    return os.path.getsize(path)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf-dir")
    ap.add_argument("--gguf-file")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", default="k5-distinct")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--steps-ablation", type=int, default=0, help="steps for variants after the first (0 = --steps)")
    ap.add_argument("--token-budget", type=int, default=12000)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--lr-rows", type=float, default=2e-3)
    ap.add_argument("--num-slots", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--smoke", action="store_true", help="tiny random model, few steps: checks the pipeline")
    ap.add_argument("--deadline", type=float, default=540, help="seconds after start at which training stops and results are saved")
    ap.add_argument("--checkpoint", help="if the deadline stops the first variant before --steps, save its full training state here "
                    "(LoRA, link rows, optimizer, step, batch order, teacher answers) and stop; a later call continues with --resume")
    ap.add_argument("--resume", help="continue the first variant from a --checkpoint file (same data and flags)")
    ap.add_argument("--init-adapter", help="start the first variant from this adapter file (LoRA + link rows) instead of fresh weights")
    ap.add_argument("--adapter-tasks", default="documents", help="what the adapter is trained for, written to kvlink.json "
                    "(documents; documents,tools): the engine runs it in prompts with documents, and with bound tools if listed")
    args = ap.parse_args()
    global T0
    T0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    meta = json.load(open(os.path.join(args.data, "meta.json")))
    vocab, eos = meta["vocabSize"], meta["eosTokenId"]
    train = read_jsonl_gz(os.path.join(args.data, "train.jsonl.gz"))
    dev = read_jsonl_gz(os.path.join(args.data, "dev.jsonl.gz"))

    if args.smoke:
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                          num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True, rope_theta=100000.0)
        base = LlamaForCausalLM(cfg).to(device).eval()
        for p in base.parameters():
            p.requires_grad_(False)
        train, dev = train[:200], dev[:20]
    else:
        base = load_base(args.gguf_dir, args.gguf_file, device)
    log(event="loaded", device=device, train=len(train), dev=len(dev), params=sum(p.numel() for p in base.parameters()))
    ref = None if args.smoke else check_reference_logits(base, meta, device)
    log(event="reference_logits", result=ref)
    if ref is not None and (ref["maxAbsDiffTop"] > 0.02 or not ref["argmaxEqual"]):
        raise SystemExit("the PyTorch model does not reproduce the ONNX engine's logits: training it would not train the shipped model")

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(args.data, "tokenizer.json"))
    decode = lambda ids: tok.decode([i for i in ids if i < vocab], skip_special_tokens=True)  # noqa: E731

    ckpt = torch.load(args.resume, map_location=device, weights_only=False) if args.resume else None
    if ckpt is not None:
        assert len(ckpt["responses"]) == len(train), "the checkpoint was made from other training data"
        for ex, r in zip(train, ckpt["responses"]):
            ex["response"] = r
        log(event="resumed", step=ckpt["step"], phase_logs=len(ckpt["log"]))
        LOG[:0] = ckpt["log"]
    else:
        n_gen = generate_teacher(base, train, eos, device)
        log(event="teacher_responses", count=n_gen)

    results = {"reference_logits": ref, "variants": {}, "args": vars(args)}
    base_dev = None
    for vi, variant in enumerate(args.variants.split(",")):
        if vi > 0 and time.time() - T0 > args.deadline - 60:
            log(event="skipped", variant=variant)
            continue
        torch.manual_seed(args.seed)
        rng = random.Random(args.seed)
        links, num_rows = link_config(variant, vocab, args.num_slots)
        peft_model = add_lora(base, args.rank, args.alpha) if vi == 0 else peft_model  # noqa: F821
        if vi > 0:  # fresh LoRA weights for the next variant
            for name, p in peft_model.named_parameters():
                if "lora_A" in name:
                    torch.nn.init.kaiming_uniform_(p, a=5 ** 0.5)
                elif "lora_B" in name:
                    torch.nn.init.zeros_(p)
        extra = ExtraEmbeddings(base.get_input_embeddings().weight, num_rows, args.seed).to(device)
        inner = peft_model.get_base_model()
        if vi == 0 and args.init_adapter and ckpt is None:
            n_loaded = load_adapter_into(peft_model, extra, args.init_adapter)
            log(event="init_adapter", path=args.init_adapter, tensors=n_loaded)
        if vi == 0 and ckpt is not None:
            base_dev = ckpt["base_dev"]
        elif vi == 0:
            diff, scale = check_block_mask(inner, extra, dev, links, vocab, device)
            log(event="mask_check", max_abs_diff=diff, scale=scale)
            assert diff <= 1e-3 * max(1.0, scale), "the 4D block mask is not honoured"
            base_dev = {m: dev_accuracy(peft_model, extra, dev, links, vocab, eos, decode, device, m, use_adapter=False) for m in ["full", "rerotate"]}
            log(event="dev_base", **{m: v for m, v in base_dev.items()})
        for ex in train:
            s, _, _ = student_sequence(ex, links)
            ex["_len"] = len(s)
        lora_params = [p for p in peft_model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW([{"params": lora_params, "lr": args.lr}, {"params": [extra.rows], "lr": args.lr_rows}], weight_decay=0.0)
        base_lrs = [g["lr"] for g in opt.param_groups]
        steps = args.steps if vi == 0 or args.steps_ablation == 0 else args.steps_ablation
        warmup = max(10, steps // 20)
        batches = []
        first_step = 0
        if vi == 0 and ckpt is not None:
            with torch.no_grad():
                for name, p in peft_model.named_parameters():
                    if p.requires_grad:
                        p.copy_(ckpt["lora"][name])
                extra.rows.copy_(ckpt["rows"])
            opt.load_state_dict(ckpt["opt"])
            rng.setstate(ckpt["rng"])
            batches, first_step = ckpt["batches"], ckpt["step"]
            ckpt = None
        peft_model.train()
        t_start = time.time()
        stopped_early = False
        for step in range(first_step, steps):
            if not batches:
                batches = make_batches(train, args.token_budget, rng)
            idx = batches.pop()
            f = cosine_lr(step, steps, warmup)
            for g, lr in zip(opt.param_groups, base_lrs):
                g["lr"] = lr * f
            loss, ce, kl = batch_loss(peft_model, extra, [train[i] for i in idx], links, vocab, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lora_params + [extra.rows], 1.0)
            opt.step()
            if step % 50 == 0 or step == steps - 1:
                log(event="step", variant=variant, step=step, loss=round(float(loss), 4), ce=round(ce, 4), kl=round(kl, 4), lr=round(base_lrs[0] * f, 7))
            if args.smoke and step >= 5:
                break
            if time.time() - T0 > args.deadline:
                log(event="deadline", variant=variant, step=step)
                stopped_early = step < steps - 1
                break
        if vi == 0 and stopped_early and args.checkpoint:
            state = {"step": step + 1, "batches": batches, "rng": rng.getstate(), "opt": opt.state_dict(), "base_dev": base_dev,
                     "lora": {n: p.detach().clone() for n, p in peft_model.named_parameters() if p.requires_grad},
                     "rows": extra.rows.detach().clone(), "responses": [ex["response"] for ex in train], "log": list(LOG)}
            torch.save(state, args.checkpoint)
            log(event="checkpoint", path=args.checkpoint, step=step + 1, of=steps)
            json.dump({**results, "dev_base": base_dev, "log": LOG}, open(os.path.join(args.out, "metrics-phase1.json"), "w"), indent=1)
            return
        peft_model.eval()
        train_s = time.time() - t_start
        acc = {m: dev_accuracy(peft_model, extra, dev, links, vocab, eos, decode, device, m, use_adapter=True) for m in ["full", "kvlink"]}
        log(event="dev", variant=variant, **acc, train_seconds=round(train_s, 1))
        path = os.path.join(args.out, f"adapter-{variant}.safetensors")
        size = save_adapter(peft_model, extra, links, num_rows, path, args.rank, args.alpha, args.adapter_tasks.split(","))
        results["variants"][variant] = {"dev": acc, "train_seconds": train_s, "steps": steps, "adapter_bytes": size}
        results["dev_base"] = base_dev
        json.dump({**results, "log": LOG}, open(os.path.join(args.out, "metrics.json"), "w"), indent=1)
    log(event="done")


if __name__ == "__main__":
    main()
