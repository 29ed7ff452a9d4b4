# Copyright (c) monai_tabular contributors
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#     http://www.apache.org/licenses/LICENSE-2.0
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""GAAL's tensor maths: predictive entropy, the top-lambda hard samples and the cross-modal gradient surgery.

The surgery is the closed-form solution of ``min ||g' - g||^2  s.t.  g' . g_p >= epsilon``: when the current
modality's gradient ``g`` on the shared classifier agrees with the other modality's hard-sample gradient ``g_p``
by less than the margin ``epsilon`` (a dot product, in the gradients' own units), ``g`` gets the smallest
correction along ``g_p`` that restores the margin: ``g' = g + v g_p``, ``v = max(0, (epsilon - g_p . g) /
||g_p||^2)``, so that ``g' . g_p = epsilon``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["DEFAULT_EPSILON", "DEFAULT_HARD_FRACTION", "predictive_entropy", "hard_sample_count", "hard_samples",
           "gradient_surgery", "surgery_coefficients", "check_hard_fraction"]

DEFAULT_EPSILON = 0.75
DEFAULT_HARD_FRACTION = 0.5


def check_hard_fraction(value: float, owner: str = "GAAL") -> float:
    """``value`` as a float in (0, 1], or a ``ValueError`` naming it.

    Example:
        >>> check_hard_fraction(0.5)
        0.5
    """
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: the hard-sample fraction lambda must be a number in (0, 1], got {value!r}") \
            from None
    if not 0.0 < fraction <= 1.0 or math.isnan(fraction):
        raise ValueError(f"{owner}: the hard-sample fraction lambda must be in (0, 1], got {value!r}")
    return fraction


def predictive_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of the softmax of each row of ``logits`` (B, C): (B,).

    Example:
        >>> [round(v, 3) for v in predictive_entropy(torch.tensor([[0.0, 0.0], [10.0, -10.0]])).tolist()]
        [0.693, 0.0]
    """
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return -(log_probs.exp() * log_probs).sum(dim=-1)


def hard_sample_count(n_samples: int, fraction: float) -> int:
    """How many of ``n_samples`` the top-``fraction`` keeps: ``ceil(fraction * n)``, clamped to ``[1, n]``.

    A batch too small for the fraction (e.g. 1 sample with lambda 0.5) keeps one sample rather than none, so a
    hard-sample gradient always exists when the modality has any sample; 0 samples give 0.

    Example:
        >>> hard_sample_count(8, 0.5), hard_sample_count(1, 0.5), hard_sample_count(3, 0.01), hard_sample_count(0, 1.0)
        (4, 1, 1, 0)
    """
    fraction = check_hard_fraction(fraction)
    if n_samples <= 0:
        return 0
    return min(n_samples, max(1, math.ceil(fraction * n_samples - 1e-9)))


def hard_samples(logits: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices (k,) of the ``hard_sample_count(B, fraction)`` rows of ``logits`` with the highest entropy.

    Example:
        >>> hard_samples(torch.tensor([[5.0, -5.0], [0.1, 0.0], [2.0, 0.0]]), 0.5).tolist()
        [1, 2]
    """
    count = hard_sample_count(int(logits.shape[0]), fraction)
    return torch.topk(predictive_entropy(logits.detach()), count).indices


def surgery_coefficients(*, g_dot_g: float, g_dot_ref: float, ref_dot_ref: float, epsilon: float = DEFAULT_EPSILON,
                         normalize: bool = False) -> tuple[float, float, float]:
    """The surgery from the three dot products alone: ``(a, b, v)`` such that ``g' = a g + b g_p``.

    Raw rule: ``a = 1``, ``b = v = max(0, (epsilon - g_p . g) / ||g_p||^2)`` when ``g_p . g < epsilon`` (else
    ``v = 0``). ``normalize``: the same rule on ``g/||g||`` and ``g_p/||g_p||``, the result rescaled to ``||g||``.
    A zero ``g_p`` (or, normalised, a zero ``g``) gives ``(1, 0, 0)``. Working from dot products lets the training
    step read one small Gram matrix from the device instead of synchronising for every scalar.

    Example:
        >>> surgery_coefficients(g_dot_g=1.0, g_dot_ref=-1.0, ref_dot_ref=2.0, epsilon=0.0)
        (1.0, 0.5, 0.5)
    """
    if ref_dot_ref <= 0.0 or (normalize and g_dot_g <= 0.0):
        return 1.0, 0.0, 0.0
    if not normalize:
        v = max(0.0, (float(epsilon) - g_dot_ref) / ref_dot_ref) if g_dot_ref < float(epsilon) else 0.0
        return 1.0, v, v
    g_norm, ref_norm = math.sqrt(g_dot_g), math.sqrt(ref_dot_ref)
    cosine = g_dot_ref / (g_norm * ref_norm)
    v = max(0.0, float(epsilon) - cosine) if cosine < float(epsilon) else 0.0
    if v == 0.0:
        return 1.0, 0.0, 0.0
    unit_norm = math.sqrt(max(1.0 + 2.0 * v * cosine + v * v, 1e-300))
    return 1.0 / unit_norm, v * g_norm / (ref_norm * unit_norm), v


def gradient_surgery(gradient: torch.Tensor, reference: torch.Tensor, *, epsilon: float = DEFAULT_EPSILON,
                     normalize: bool = False) -> tuple[torch.Tensor, float]:
    """Align ``gradient`` g with the hard-sample ``reference`` gradient g_p (both flat vectors).

    Returns ``(g', v)``: ``g' = g + v g_p`` with ``v = max(0, (epsilon - g_p . g) / ||g_p||^2)`` when
    ``g_p . g < epsilon``, else ``(g, 0)``. A zero reference leaves ``g`` unchanged (nothing to align with).

    Args:
        gradient: the current modality's gradient on the shared classifier.
        reference: the other modality's hard-sample gradient on the same parameters.
        epsilon: the margin on the dot product (default 0.75); 0 only removes conflicts (GEM-style).
        normalize: apply the rule to the unit vectors ``g/||g||`` and ``g_p/||g_p||`` (``epsilon`` is then a
            margin on the cosine, independent of the gradients' scale) and give the result the norm of ``g``;
            ``v`` is then reported for the unit vectors.

    Example:
        >>> g, v = gradient_surgery(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0]), epsilon=0.0)
        >>> g.tolist(), v
        ([0.5, 0.5], 0.5)
    """
    if gradient.shape != reference.shape:
        raise ValueError(f"gradient_surgery: gradient {tuple(gradient.shape)} and reference "
                         f"{tuple(reference.shape)} must have the same shape")
    g, g_p = gradient.double().flatten(), reference.double().flatten()
    a, b, v = surgery_coefficients(g_dot_g=float(g @ g), g_dot_ref=float(g @ g_p), ref_dot_ref=float(g_p @ g_p),
                                   epsilon=epsilon, normalize=normalize)
    if v == 0.0:
        return gradient, 0.0
    return (a * g + b * g_p).view_as(gradient).to(gradient.dtype), v
