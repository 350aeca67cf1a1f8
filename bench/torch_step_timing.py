"""The training step the PyTorch peers time (bench/torch_train_step.py,
bench/torch_variant_step.py): zero_grad, the loss, backward,
clip_grad_norm_(1.0), AdamW; the median of `steps` after `warmup`."""
import time

import torch


def adamw(P, decays):
    """AdamW as racc's optimizer pass sets it up: weight decay 0.1 on the
    parameters `decays` says, none on the rest."""
    decay = [t for n, t in P.items() if decays(n, t)]
    rest = [t for n, t in P.items() if not decays(n, t)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": rest, "weight_decay": 0.0}],
                             lr=1e-4, betas=(0.9, 0.95), eps=1e-8)


def median_step_ms(P, loss_of, opt, warmup, steps, sync=lambda: None):
    times = []
    for step in range(warmup + steps):
        sync()
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        sync()
        if step >= warmup:
            times.append((time.perf_counter() - t) * 1e3)
        if not torch.isfinite(loss):
            raise SystemExit(f"the loss is {loss.item()} at step {step}")
    times.sort()
    return times[len(times) // 2]
