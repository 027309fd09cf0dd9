"""`fit(amp=True)` picks the autocast dtype by compute capability (mocked CUDA, on the CPU).

`torch.cuda.is_bf16_supported()` says True on a T4 (capability 7.5) because bf16 can be
emulated there, slowly; `fit` must choose fp16 with a GradScaler below capability 8.0.
"""

import pytest
import torch

from d2lutils.train.loop import mixed_precision

CUDA = torch.device("cuda")


@pytest.fixture
def gpu(monkeypatch):
    """Pretend a CUDA GPU of the given compute capability is present: gpu(7, 5)."""

    def pretend(major: int, minor: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, minor))
        # what a T4 answers too: bf16 "supported" through emulation
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)

    return pretend


@pytest.mark.parametrize("capability, dtype", [
    ((6, 1), torch.float16),   # Pascal
    ((7, 0), torch.float16),   # V100
    ((7, 5), torch.float16),   # T4, Colab's free GPU
    ((8, 0), torch.bfloat16),  # A100
    ((8, 6), torch.bfloat16),  # RTX 30xx
    ((9, 0), torch.bfloat16),  # H100
])
def test_amp_true_chooses_by_compute_capability(gpu, capability, dtype):
    gpu(*capability)
    chosen, scaler = mixed_precision(True, CUDA)
    assert chosen == dtype
    # fp16 needs loss scaling against underflowing gradients; bf16 has float32's range
    assert (scaler is not None) == (dtype == torch.float16)
    if scaler is not None:
        assert isinstance(scaler, torch.amp.GradScaler) and scaler.is_enabled()


@pytest.mark.parametrize("amp, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_amp_explicit_dtype_is_honoured(gpu, amp, dtype):
    gpu(7, 5)
    chosen, scaler = mixed_precision(amp, CUDA)
    assert chosen == dtype and (scaler is not None) == (dtype == torch.float16)


def test_amp_off_and_off_cuda(gpu):
    gpu(9, 0)
    assert mixed_precision(False, CUDA) == (None, None)
    for dev in ("cpu", "mps"):
        with pytest.warns(UserWarning, match="only used on CUDA"):
            assert mixed_precision(True, torch.device(dev)) == (None, None)
    with pytest.raises(ValueError, match="amp must be False, True, 'bf16' or 'fp16'"):
        mixed_precision("fp8", CUDA)
