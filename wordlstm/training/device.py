"""Where and in what precision training runs: the device, bf16 autocast, and the process group."""
from contextlib import nullcontext

import torch
import torch.distributed as dist

from ..errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but no CUDA GPU is available; use auto or cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but MPS is not available; use auto or cpu")
    return device


def device_name(device: torch.device, bf16: bool = False) -> str:
    """Where a run trains, for people: the device (a GPU's card too), and bf16 where autocast is on."""
    name = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type
    return name + (", bf16" if bf16 else "")


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    """bf16 autocast where it pays: CUDA (tensor cores, no loss scaling needed)
    and CPUs with AMX (oneDNN runs the LSTM in bf16 there: ~1.35x the tokens/s
    of fp32 at the book's sizes; at the medium size about the same speed and
    perplexity, docs/benchmarks.md). Elsewhere bf16 on a CPU is slower than fp32."""
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return True
    capabilities = getattr(torch.cpu, "get_capabilities", dict)()
    return device.type == "cpu" and bool(capabilities.get("amx_bf16"))


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def world_info() -> tuple[int, int]:
    """(this process's rank, the number of processes) under torch.distributed; (0, 1) without it."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1
