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
"""Explanation reports: image saliency and table attributions of a trained network, for chosen subjects and the
cohort, written as one Markdown report with PNGs.

* Image saliency: MONAI's :class:`~monai.visualize.GradCAM` and :class:`~monai.visualize.OcclusionSensitivity`
  (2D and 3D; a 3D map is drawn as a montage of slices overlaid on the image). The subject's table is held fixed
  while the image varies.
* Table attributions per subject: integrated gradients with respect to each observed numerical attribute (from
  the training median, encoded 0, to the subject's value) and, for every attribute, the change in the predicted
  score when the attribute is marked missing (what the networks are trained to handle).
* Cohort: permutation importance of every attribute and of the image (scikit-learn's
  :func:`~sklearn.inspection.permutation_importance`; permuting the image column gives each subject another
  subject's image), and the mean Grad-CAM map.
* Method sections: a network with an ``explain_extras(run_dir)`` method, or files in ``<run_dir>/explain_extras/``,
  add sections (PNG, Markdown, JSON or CSV) without this module knowing the method.

:func:`write_explanation_report` takes the pieces a bundle config already builds (network, data list, transform);
:func:`explain_run` rebuilds them from a baseline run folder.
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from monai_tabular.engines.trainer import logits_of
from monai_tabular.metrics.report import agg_figure

__all__ = ["Section", "ImageLogits", "find_target_layer", "grad_cam_map", "occlusion_map",
           "integrated_gradients_numerical", "missing_attribute_effect", "cohort_permutation_importance",
           "save_saliency_figure", "save_bar_figure", "collect_extras", "write_explanation_report", "explain_run",
           "EXTRAS_DIR"]

logger = logging.getLogger(__name__)

EXTRAS_DIR = "explain_extras"
TABLE_KEYS = ("numerical", "numerical_mask", "categorical", "categorical_mask")


@dataclass
class Section:
    """One block of the report: a title and its content (Markdown text, or a PNG / Markdown / JSON / CSV file).

    Example:
        >>> Section(title="Alignment", content="runs/fold0/alignment.png").title
        'Alignment'
    """

    title: str
    content: str | Path
    subsections: list[Section] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- network wrappers


def _expand(value: Any, size: int) -> Any:
    """A batch-of-one entry repeated to ``size`` samples (views for tensors)."""
    if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == 1:
        return value.expand(size, *value.shape[1:])
    if isinstance(value, list) and len(value) == 1:
        return value * size
    return value


class ImageLogits(nn.Module):
    """The network as a function of the image alone: the subject's other inputs (table, flags) are held fixed.

    MONAI's CAM and occlusion tools call a module with an image tensor; this adapts a ``forward(batch dict)``
    network, repeating the subject's batch-of-one entries to the image batch size.

    Args:
        network: a network taking the batch dict and returning logits or a dict with ``"logits"``.
        inputs: the subject's batch dict (batch size 1).

    Example:
        >>> wrapped = ImageLogits(network=net, inputs=subject_batch)   # doctest: +SKIP
        >>> wrapped(subject_batch["image"]).shape                       # doctest: +SKIP
        torch.Size([1, 2])
    """

    def __init__(self, *, network: nn.Module, inputs: Mapping[str, Any]) -> None:
        super().__init__()
        self.network = network
        self.inputs = {k: v for k, v in inputs.items() if k != "image"}
        self.train(network.training)  # MONAI's CAM restores the wrapper's mode on the network after each call

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        batch = {k: _expand(v, image.shape[0]) for k, v in self.inputs.items()}
        batch["image"] = image
        return logits_of(self.network(batch))


def find_target_layer(*, network: nn.Module, inputs: Mapping[str, Any], min_side: int = 4) -> str:
    """Name (in ``network``) of the last layer whose output is an image feature map, for Grad-CAM.

    Forward hooks record every module's output in the order modules finish; the last one shaped like the image
    (batch, channels, spatial...) whose every spatial side is at least ``min_side`` wins, so a whole stage
    (``image_encoder.layer3``) is preferred over the layers inside it, and a map too coarse to show where (a
    pooled 1x1, or 2x2x2) is skipped; with none that fine, the finest-last map is used. Modules under
    ``image_encoder`` are preferred when the network has one.

    Example:
        >>> find_target_layer(network=net, inputs=subject_batch)   # doctest: +SKIP
        'image_encoder.layer3'
    """
    image = inputs["image"]
    spatial_rank = image.ndim
    fired: list[tuple[str, tuple[int, ...]]] = []
    handles = []
    for name, module in network.named_modules():
        if not name:
            continue

        def hook(_module, _args, output, name=name):
            if isinstance(output, torch.Tensor) and output.ndim == spatial_rank and output.shape[0] == image.shape[0]:
                fired.append((name, tuple(output.shape[2:])))

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            network(dict(inputs))
    finally:
        for handle in handles:
            handle.remove()
    preferred = [f for f in fired if f[0].startswith("image_encoder.")] or fired
    if not preferred:
        raise ValueError(f"{type(network).__name__} has no layer with an image-shaped output "
                         f"(batch, channels, {spatial_rank - 2} spatial dims); pass target_layer explicitly")
    fine = [name for name, shape in preferred if min(shape) >= min_side]
    if fine:
        return fine[-1]
    largest = max(int(np.prod(shape)) for _, shape in preferred)
    return [name for name, shape in preferred if int(np.prod(shape)) == largest][-1]


def _unit_range(saliency: torch.Tensor) -> torch.Tensor:
    """Min-max scaling of each sample's map to [0, 1] (a constant map becomes zeros)."""
    flat = saliency.flatten(1)
    low, high = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    scaled = (flat - low) / (high - low).clamp_min(1e-12)
    return scaled.reshape(saliency.shape)


def grad_cam_map(*, network: nn.Module, inputs: Mapping[str, Any], target: int, target_layer: str | None = None,
                 ) -> np.ndarray:
    """Grad-CAM of class ``target`` for one subject, upsampled to the image's spatial shape, scaled to [0, 1].

    Example:
        >>> grad_cam_map(network=net, inputs=subject_batch, target=1).shape   # doctest: +SKIP
        (16, 16, 16)
    """
    from monai.visualize import GradCAM

    layer = target_layer or find_target_layer(network=network, inputs=inputs)
    wrapped = ImageLogits(network=network, inputs=inputs)
    # MONAI's default post-processing maps the largest value to 0; scale here so that 1 means most important
    cam = GradCAM(nn_module=wrapped, target_layers=f"network.{layer}", postprocessing=lambda x: x)
    image = inputs["image"].detach().clone()
    with torch.enable_grad():
        saliency = cam(x=image, class_idx=int(target))
    return _unit_range(saliency.detach().float().cpu())[0, 0].numpy()


def occlusion_map(*, network: nn.Module, inputs: Mapping[str, Any], target: int, task: str = "classification",
                  mask_size: int | Sequence[int] | None = None, n_batch: int = 16) -> np.ndarray:
    """Occlusion sensitivity of one subject: the drop of the target's score when a patch around each voxel is
    occluded (MONAI's :class:`~monai.visualize.OcclusionSensitivity`, Gaussian occlusion); positive where the
    region supports the prediction. Shape: the image's spatial shape.

    Args:
        mask_size: occluding patch size; default a quarter of the smallest side (at least 2).
        task: ``"classification"`` scores are softmax probabilities, ``"regression"`` the raw prediction.

    Example:
        >>> occlusion_map(network=net, inputs=subject_batch, target=1).shape   # doctest: +SKIP
        (16, 16, 16)
    """
    from monai.visualize import OcclusionSensitivity

    image = inputs["image"].detach().clone()
    spatial = image.shape[2:]
    if mask_size is None:
        mask_size = max(2, min(spatial) // 4)
    classify = task == "classification"
    wrapped = ImageLogits(network=network, inputs=inputs)
    occlusion = OcclusionSensitivity(nn_module=wrapped, mask_size=mask_size, n_batch=n_batch, verbose=False,
                                     mode="gaussian", activate=classify)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using a non-tuple sequence", category=UserWarning)
        occluded, _ = occlusion(image)
        full = wrapped(image)
        full = torch.softmax(full, dim=1) if classify else full
    occluded = occluded.as_tensor() if hasattr(occluded, "as_tensor") else occluded
    if occluded.ndim == image.ndim + 1:  # older MONAI: (B, C, *spatial, N)
        per_voxel = occluded[0].float().mean(0)[..., int(target)]
    else:  # (B, N, *spatial)
        per_voxel = occluded[0, int(target)].float()
    return (full[0, int(target)].float() - per_voxel).cpu().numpy()


# ----------------------------------------------------------------------------------------- table attributions


def _score(network: nn.Module, batch: Mapping[str, Any], target: int, task: str) -> torch.Tensor:
    logits = logits_of(network(batch))
    return torch.softmax(logits, dim=1)[:, target] if task == "classification" else logits[:, target]


def integrated_gradients_numerical(*, network: nn.Module, inputs: Mapping[str, Any], target: int,
                                   task: str = "classification", steps: int = 32) -> np.ndarray:
    """Integrated gradients of the target's score w.r.t. each numerical attribute of one subject.

    The path runs from the training median (encoded 0, observed) to the subject's value, other inputs fixed;
    the attributions sum to the score difference between the two ends (completeness). Missing cells get NaN.

    Example:
        >>> integrated_gradients_numerical(network=net, inputs=subject_batch, target=1)   # doctest: +SKIP
        array([ 0.12, -0.03], dtype=float32)
    """
    values = inputs["numerical"].detach().float()
    if values.numel() == 0:
        return np.zeros(0, dtype=np.float32)
    alphas = (torch.arange(steps, dtype=values.dtype, device=values.device) + 0.5) / steps
    path = (alphas[:, None] * values).requires_grad_(True)  # (steps, n_numerical); the baseline is 0
    batch = {k: _expand(v, steps) for k, v in inputs.items()}
    batch["numerical"] = path
    with torch.enable_grad():
        score = _score(network, batch, target, task).sum()
        (gradients,) = torch.autograd.grad(score, path)
    attributions = (values[0] * gradients.mean(0)).cpu().numpy().astype(np.float32)
    mask = inputs.get("numerical_mask")
    if mask is not None:
        attributions[mask[0].cpu().numpy() < 0.5] = np.nan
    return attributions


def _attribute_names(schema) -> list[str]:
    return list(schema.numerical) + list(schema.categorical)


def missing_attribute_effect(*, network: nn.Module, inputs: Mapping[str, Any], target: int,
                             task: str = "classification") -> np.ndarray:
    """For each attribute (numerical first, then categorical), the target's score minus the score with that
    attribute marked missing (value 0, mask 0): positive when the observed value supports the prediction.

    Example:
        >>> missing_attribute_effect(network=net, inputs=subject_batch, target=1).shape   # doctest: +SKIP
        (5,)
    """
    n_num = inputs["numerical"].shape[1] if inputs.get("numerical") is not None else 0
    n_cat = inputs["categorical"].shape[1] if inputs.get("categorical") is not None else 0
    n_attr = n_num + n_cat
    if n_attr == 0:
        return np.zeros(0, dtype=np.float32)
    batch = {k: _expand(v, n_attr + 1) for k, v in inputs.items()}  # row 0: as observed; row i+1: attribute i out
    for key in TABLE_KEYS:
        values = batch.get(key.removesuffix("_mask"))
        if batch.get(key) is not None:
            batch[key] = batch[key].clone()
        elif values is not None:  # a left-out mask means all observed
            batch[key] = torch.ones(values.shape, device=values.device)
    for i in range(n_num):
        batch["numerical"][i + 1, i] = 0
        batch["numerical_mask"][i + 1, i] = 0
    for j in range(n_cat):
        batch["categorical"][n_num + j + 1, j] = 0
        batch["categorical_mask"][n_num + j + 1, j] = 0
    with torch.no_grad():
        scores = _score(network, batch, target, task).float().cpu().numpy()
    return (scores[0] - scores[1:]).astype(np.float32)


class _CohortModel:
    """A scikit-learn style estimator over a design matrix of attribute columns (+ a column of row indices that
    selects each row's image and other inputs), so :func:`sklearn.inspection.permutation_importance` can permute
    attributes and images alike."""

    def __init__(self, *, network: nn.Module, samples: list[dict], n_num: int, n_cat: int, task: str,
                 device: torch.device, batch_size: int) -> None:
        self.network, self.samples, self.n_num, self.n_cat = network, samples, n_num, n_cat
        self.task, self.device, self.batch_size = task, device, batch_size

    def fit(self, *_args, **_kwargs) -> _CohortModel:
        return self

    def predict_scores(self, design: np.ndarray) -> np.ndarray:
        outputs = []
        for start in range(0, len(design), self.batch_size):
            rows = design[start:start + self.batch_size]
            batch = _collate([self.samples[int(i)] for i in rows[:, -1]], self.device)
            numerical = rows[:, :self.n_num]
            categorical = rows[:, self.n_num:self.n_num + self.n_cat]
            if self.n_num:
                observed = ~np.isnan(numerical)
                batch["numerical"] = torch.as_tensor(np.nan_to_num(numerical), dtype=torch.float32, device=self.device)
                batch["numerical_mask"] = torch.as_tensor(observed, dtype=torch.float32, device=self.device)
            if self.n_cat:
                observed = categorical >= 0
                batch["categorical"] = torch.as_tensor(np.where(observed, categorical, 0), dtype=torch.long,
                                                       device=self.device)
                batch["categorical_mask"] = torch.as_tensor(observed, dtype=torch.float32, device=self.device)
            with torch.no_grad():
                logits = logits_of(self.network(batch)).float()
            outputs.append((torch.softmax(logits, 1) if self.task == "classification" else logits).cpu().numpy())
        return np.concatenate(outputs)


def _cohort_metric(task: str, labels: np.ndarray) -> tuple[str, Callable[[np.ndarray, np.ndarray], float]]:
    from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, roc_auc_score

    if task != "classification":
        return "negative MAE", lambda y, scores: -mean_absolute_error(y, scores[:, 0])
    if len(np.unique(labels)) < 2:
        return "balanced accuracy", lambda y, scores: balanced_accuracy_score(y, scores.argmax(1))

    def auc(y: np.ndarray, scores: np.ndarray) -> float:
        if scores.shape[1] == 2:
            return roc_auc_score(y, scores[:, 1])
        return roc_auc_score(y, scores, multi_class="ovr", labels=list(range(scores.shape[1])))

    return "AUC", auc


def cohort_permutation_importance(*, network: nn.Module, samples: list[dict], names: Sequence[str], task: str,
                                  use_image: bool, n_repeats: int = 5, seed: int = 0,
                                  device: torch.device | str = "cpu", batch_size: int = 16) -> dict[str, Any]:
    """Permutation importance over the cohort: the drop of the cohort metric (AUC, balanced accuracy or negative
    MAE) when one attribute's column -- or, with ``use_image``, the images -- is shuffled across subjects.

    Returns:
        ``{"metric": name, "baseline": value, "importances": {attribute: {"mean", "std"}}}``.

    Example:
        >>> cohort_permutation_importance(network=net, samples=samples, names=["age", "sex"],
        ...                               task="classification", use_image=True)   # doctest: +SKIP
    """
    from sklearn.inspection import permutation_importance

    n_num = int(samples[0]["numerical"].shape[-1]) if samples[0].get("numerical") is not None else 0
    n_cat = int(samples[0]["categorical"].shape[-1]) if samples[0].get("categorical") is not None else 0
    design = np.zeros((len(samples), n_num + n_cat + 1), dtype=np.float64)
    for row, sample in enumerate(samples):
        if n_num:
            values = sample["numerical"].reshape(-1).cpu().numpy().astype(np.float64)
            values[sample["numerical_mask"].reshape(-1).cpu().numpy() < 0.5] = np.nan
            design[row, :n_num] = values
        if n_cat:
            codes = sample["categorical"].reshape(-1).cpu().numpy().astype(np.float64)
            codes[sample["categorical_mask"].reshape(-1).cpu().numpy() < 0.5] = -1
            design[row, n_num:n_num + n_cat] = codes
        design[row, -1] = row
    labels = np.asarray([np.asarray(torch.as_tensor(s["label"]).cpu()).reshape(-1)[0] for s in samples])
    model = _CohortModel(network=network, samples=samples, n_num=n_num, n_cat=n_cat, task=task,
                         device=torch.device(device), batch_size=batch_size)
    metric_name, metric = _cohort_metric(task, labels)

    def scorer(estimator: _CohortModel, x: np.ndarray, y: np.ndarray) -> float:
        return float(metric(y, estimator.predict_scores(x)))

    columns = list(range(n_num + n_cat)) + ([n_num + n_cat] if use_image else [])
    result = permutation_importance(model, design, labels, scoring=scorer, n_repeats=n_repeats, random_state=seed)
    column_names = list(names)[:n_num + n_cat] + ["image"]
    return {"metric": metric_name, "baseline": scorer(model, design, labels),
            "importances": {column_names[c]: {"mean": float(result.importances_mean[c]),
                                              "std": float(result.importances_std[c])} for c in columns}}


# -------------------------------------------------------------------------------------------------- figures


def _display_image(image: np.ndarray) -> np.ndarray:
    """(C, *spatial) -> (*spatial) grey levels in [0, 1], or (*spatial, 3) for a 3-channel image."""
    def unit(a: np.ndarray) -> np.ndarray:
        low, high = np.percentile(a, 1), np.percentile(a, 99)
        return np.clip((a - low) / max(high - low, 1e-8), 0, 1)

    if image.shape[0] == 3:
        return np.stack([unit(c) for c in image], axis=-1)
    return unit(image[0])


def _slice_indices(depth: int, count: int) -> list[int]:
    count = min(count, depth)
    return sorted({int(round(i)) for i in np.linspace(depth * 0.15, depth * 0.85 - 1, count)})


def _oriented(array: np.ndarray, spatial_dims: int) -> np.ndarray:
    # MONAI loads a 2D PNG as (width, height) and a NIfTI slice as (x, y); transposing shows rows top to bottom
    return np.swapaxes(array, 0, 1)


def _draw(ax, image: np.ndarray, overlay: np.ndarray | None, *, spatial_dims: int, cmap: str, signed: bool,
          limit: float) -> None:
    origin = "lower" if spatial_dims == 3 else "upper"
    ax.imshow(_oriented(image, spatial_dims), cmap=None if image.ndim == 3 else "gray", origin=origin,
              interpolation="nearest")
    if overlay is not None:
        shown = _oriented(np.nan_to_num(overlay), spatial_dims)
        # opacity follows the magnitude, so unimportant regions leave the anatomy visible
        ax.imshow(shown, cmap=cmap, alpha=np.clip(0.8 * np.abs(shown) / limit, 0, 1), origin=origin,
                  interpolation="nearest", vmin=-limit if signed else 0.0, vmax=limit)
    ax.set_xticks([])
    ax.set_yticks([])


def save_saliency_figure(*, path: Path, image: np.ndarray, maps: Mapping[str, np.ndarray], title: str,
                         n_slices: int = 8) -> Path:
    """Save the image and each saliency map overlaid on it: side by side in 2D, one montage row of ``n_slices``
    axial slices (last axis) per map in 3D.

    Example:
        >>> save_saliency_figure(path=Path("cam.png"), image=image, maps={"Grad-CAM": cam},
        ...                      title="sub-0001")  # doctest: +SKIP
    """
    shown = _display_image(image)
    spatial_dims = image.ndim - 1
    rows = [("image", None)] + list(maps.items())
    # one colour scale per map (not per slice), so slices of a 3D montage compare
    limits = {name: float(np.abs(np.nan_to_num(m)).max()) or 1.0 for name, m in maps.items()}
    if spatial_dims == 2:
        fig = agg_figure(figsize=(3.2 * len(rows), 3.4))
        axes = fig.subplots(1, len(rows), squeeze=False)
        for ax, (name, saliency) in zip(axes[0], rows):
            _draw(ax, shown, saliency, spatial_dims=2, cmap="RdBu_r" if "cclusion" in name else "inferno",
                  signed="cclusion" in name, limit=limits.get(name, 1.0))
            ax.set_title(name, fontsize=9)
    else:
        slices = _slice_indices(image.shape[-1], n_slices)
        fig = agg_figure(figsize=(1.7 * len(slices), 1.9 * len(rows)))
        axes = fig.subplots(len(rows), len(slices), squeeze=False)
        for r, (name, saliency) in enumerate(rows):
            for c, z in enumerate(slices):
                ax = axes[r, c]
                _draw(ax, shown[..., z, :] if shown.ndim == 4 else shown[..., z],
                      None if saliency is None else saliency[..., z], spatial_dims=3,
                      cmap="RdBu_r" if "cclusion" in name else "inferno", signed="cclusion" in name,
                      limit=limits.get(name, 1.0))
                if r == 0:
                    ax.set_title(f"z={z}", fontsize=8)
                if c == 0:
                    ax.set_ylabel(name, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def save_bar_figure(*, path: Path, names: Sequence[str], values: Sequence[float], errors: Sequence[float] | None,
                    title: str, xlabel: str) -> Path:
    """Horizontal bar chart of one value per attribute (NaN bars left empty).

    Example:
        >>> save_bar_figure(path=Path("t.png"), names=["age"], values=[0.1], errors=None, title="t",
        ...                 xlabel="x")  # doctest: +SKIP
    """
    values = np.nan_to_num(np.asarray(values, dtype=float))
    fig = agg_figure(figsize=(5.5, 0.35 * len(names) + 1.2))
    ax = fig.subplots()
    colours = ["#c0392b" if v > 0 else "#2e86c1" for v in values]
    ax.barh(range(len(names)), values, xerr=None if errors is None else errors, color=colours)
    ax.set_yticks(range(len(names)), labels=list(names), fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


# --------------------------------------------------------------------------------------------------- extras


def collect_extras(*, network: nn.Module | None, run_dir: str | Path | None,
                   extra_files: Sequence[str] = ()) -> list[Section]:
    """Method-specific sections: ``network.explain_extras(run_dir)`` (a list of ``(title, content)``, content a
    PNG / Markdown / JSON / CSV path or Markdown text), every file in ``<run_dir>/explain_extras/``, and for each
    glob of ``extra_files`` (relative to the run folder, e.g. ``"alignment/*.png"``) the last matching file in name
    order (e.g. the latest epoch's).

    Example:
        >>> collect_extras(network=None, run_dir=None)
        []
    """
    sections: list[Section] = []
    hook = getattr(network, "explain_extras", None)
    if callable(hook) and run_dir is not None:
        for title, content in hook(run_dir=Path(run_dir)) or []:
            sections.append(Section(title=str(title), content=content))
    folder = Path(run_dir) / EXTRAS_DIR if run_dir is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in (".png", ".md", ".json", ".csv"):
                sections.append(Section(title=path.stem.replace("_", " "), content=path))
    for pattern in extra_files if run_dir is not None else ():
        matches = sorted(p for p in Path(run_dir).glob(pattern) if p.is_file())
        if matches:
            sections.append(Section(title=matches[-1].stem.replace("_", " "), content=matches[-1]))
    return sections


def _mode_metrics_section(run_dir: Path | None) -> Section | None:
    """A table of the run's ``metrics_<mode>.json`` (both / image_only / table_only), when evaluated."""
    if run_dir is None:
        return None
    rows = []
    for path in sorted(Path(run_dir).glob("metrics_*.json")):
        try:
            content = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        metrics = {k: v for k, v in (content.get("metrics") or {}).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if metrics:
            rows.append((path.stem.removeprefix("metrics_"), metrics))
    if not rows:
        return None
    keys = [k for k in rows[0][1] if "_ci" not in k][:6]
    lines = ["| mode | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    lines += [f"| {mode} | " + " | ".join(f"{m.get(k, float('nan')):.3f}" for k in keys) + " |" for mode, m in rows]
    return Section(title="Evaluation by input mode (what each modality contributes)", content="\n".join(lines))


# --------------------------------------------------------------------------------------------------- report


def _collate(samples: Sequence[Mapping[str, Any]], device: torch.device) -> dict[str, Any]:
    from monai.data import list_data_collate

    from monai_tabular.engines.prepare_batch import to_device

    batch = list_data_collate([dict(s) for s in samples])
    batch = {k: v.as_tensor() if hasattr(v, "as_tensor") else v for k, v in batch.items()}
    return to_device(batch, device)


def _uses(network: nn.Module, modality: str, mode: str) -> bool:
    allowed = getattr(network, "allowed_modes", ("both", "image_only", "table_only"))
    if f"{modality}_only" not in allowed:
        return False
    return mode in ("both", f"{modality}_only")


def _render(section: Section, output_dir: Path, level: int) -> list[str]:
    lines = [f"{'#' * level} {section.title}", ""]
    content = section.content
    path = Path(content) if isinstance(content, Path) or (
        isinstance(content, str) and "\n" not in content and content.lower().endswith((".png", ".md", ".json", ".csv"))
        and Path(content).is_file()) else None
    if path is None:
        lines += [str(content), ""]
    elif path.suffix.lower() == ".png":
        target = path if path.parent.resolve() == output_dir.resolve() else output_dir / "extras" / path.name
        if target != path:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        lines += [f"![{section.title}]({target.relative_to(output_dir).as_posix()})", ""]
    elif path.suffix.lower() == ".md":
        lines += [path.read_text().strip(), ""]
    elif path.suffix.lower() == ".csv":
        import pandas as pd

        frame = pd.read_csv(path)
        lines += [_markdown_table(frame.head(20)), "", f"({len(frame)} rows in `{path.name}`)", ""]
    else:
        text = path.read_text()
        lines += ["```json", text[:4000].rstrip(), "```", ""]
    for sub in section.subsections:
        lines += _render(sub, output_dir, level + 1)
    return lines


def _markdown_table(frame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "—" if np.isnan(value) else f"{value:.3g}"
    return str(value)


def _raw_value(record: Mapping[str, Any], name: str) -> str:
    row = record.get("table") or {}
    value = row.get(name) if isinstance(row, Mapping) else None
    return "missing" if value is None or (isinstance(value, float) and np.isnan(value)) or value == "" else str(value)


def write_explanation_report(
    *,
    network: nn.Module,
    records: Sequence[Mapping[str, Any]],
    transform: Callable,
    schema,
    output_dir: str | Path,
    subjects: Sequence[str] | None = None,
    n_subjects: int = 2,
    mode: str = "both",
    device: torch.device | str = "cpu",
    target_layer: str | None = None,
    occlusion_mask_size: int | None = None,
    n_repeats: int = 5,
    max_cohort: int = 200,
    n_cohort_maps: int = 16,
    n_slices: int = 8,
    ig_steps: int = 32,
    batch_size: int = 16,
    seed: int = 0,
    run_dir: str | Path | None = None,
    extra_files: Sequence[str] = (),
    title: str = "Explanation report",
) -> Path:
    """Explain a trained network on a data list and write ``report.md``, its PNGs and ``explanations.json``.

    Args:
        network: the trained network (weights loaded), taking the batch dict.
        records: data list (``subject_id``, ``image``, ``table``, ``label``), e.g. the test part of a fold.
        transform: the validation preprocessing (loads and encodes one record).
        schema: the run's fitted :class:`~monai_tabular.data.TableSchema` (attribute names, task, classes).
        output_dir: where the report and PNGs go.
        subjects: subject ids to explain one by one; default the first ``n_subjects`` records.
        mode: ``"both"``, ``"image_only"`` or ``"table_only"``: the inputs the network sees.
        target_layer: Grad-CAM layer name in ``network``; default :func:`find_target_layer`.
        occlusion_mask_size: occlusion patch size; default a quarter of the smallest image side.
        n_repeats: shuffles per column in the permutation importance.
        max_cohort: at most this many records enter the cohort part.
        n_cohort_maps: subjects averaged into the cohort Grad-CAM map.
        run_dir: the run folder, read for method sections and per-mode metrics.
        extra_files: globs relative to ``run_dir`` whose last match becomes a section (see :func:`collect_extras`).

    Returns:
        The path of ``report.md``.

    Example:
        >>> write_explanation_report(network=net, records=data.test, transform=preprocessing,
        ...                          schema=data.schema, output_dir="runs/fold0/explain")   # doctest: +SKIP
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    if not records:
        raise ValueError("write_explanation_report: the data list is empty; nothing to explain")
    records = list(records)[:max_cohort]
    ids = [str(r.get("subject_id", i)) for i, r in enumerate(records)]
    if subjects:
        unknown = [s for s in subjects if str(s) not in ids]
        if unknown:
            raise ValueError(f"subject(s) {unknown} are not in the explained data list ({len(ids)} subjects, "
                             f"e.g. {ids[:5]})")
        chosen = [ids.index(str(s)) for s in subjects]
    else:
        chosen = list(range(min(n_subjects, len(records))))
    task = schema.task
    class_names = list(schema.label_classes.get(schema.labels[0], [])) if schema.labels else []
    names = _attribute_names(schema)

    network = network.to(device).eval()
    previous_mode = getattr(network, "mode", None)
    if previous_mode is not None:
        network.mode = mode
    use_image = _uses(network, "image", mode) and all(r.get("image") for r in records)
    use_table = _uses(network, "table", mode) and bool(names)
    samples = [transform(dict(r)) for r in records]
    samples = [{k: v.as_tensor() if hasattr(v, "as_tensor") else v for k, v in s.items()} for s in samples]
    result: dict[str, Any] = {"task": task, "mode": mode, "classes": class_names, "subjects": {}, "cohort": {}}
    sections: list[Section] = []
    try:
        cohort = Section(title=f"Cohort ({len(records)} subjects)", content=_cohort_intro(use_image, use_table))
        if task in ("classification", "regression"):
            cohort.subsections.append(_permutation_section(
                network=network, samples=samples, names=names, task=task, use_image=use_image, n_repeats=n_repeats,
                seed=seed, device=device, batch_size=batch_size, output_dir=output_dir, result=result))
        else:
            cohort.subsections.append(Section(title="Permutation importance", content=(
                f"Not computed for {task} tasks (the cohort metric of this report is AUC / balanced accuracy or "
                "MAE); the per-subject attributions below explain the risk output.")))
        if use_image:
            cohort_ids = list(range(min(n_cohort_maps, len(samples))))
            maps, images = [], []
            for index in cohort_ids:
                inputs = _collate([samples[index]], device)
                target = _target(network, inputs, task)
                maps.append(grad_cam_map(network=network, inputs=inputs, target=target, target_layer=target_layer))
                images.append(samples[index]["image"].float().cpu().numpy())
            mean_map, mean_image = np.mean(maps, axis=0), np.mean(images, axis=0)
            png = save_saliency_figure(path=output_dir / "cohort_gradcam.png", image=mean_image,
                                       maps={"mean Grad-CAM": mean_map}, n_slices=n_slices,
                                       title=f"Mean image and mean Grad-CAM (predicted class) of {len(maps)} subjects")
            result["cohort"]["gradcam_mean_shape"] = list(mean_map.shape)
            cohort.subsections.append(Section(title="Mean Grad-CAM", content=f"![mean Grad-CAM]({png.name})"))
        mode_metrics = _mode_metrics_section(Path(run_dir) if run_dir else None)
        if mode_metrics is not None:
            cohort.subsections.append(mode_metrics)
        sections.append(cohort)

        for index in chosen:
            sections.append(_explain_subject(
                network=network, record=records[index], sample=samples[index], names=names, task=task,
                class_names=class_names, output_dir=output_dir, device=device, use_image=use_image,
                use_table=use_table, target_layer=target_layer, occlusion_mask_size=occlusion_mask_size,
                n_slices=n_slices, ig_steps=ig_steps, result=result))
        extras = collect_extras(network=network, run_dir=run_dir, extra_files=extra_files)
        if extras:
            sections.append(Section(title="Method-specific explanations", content="", subsections=extras))
    finally:
        if previous_mode is not None:
            network.mode = previous_mode
    header = [f"# {title}", "", f"- network: `{type(network).__name__}`, inputs: `{mode}`, task: {task}"
              + (f", classes: {', '.join(map(str, class_names))}" if class_names else ""),
              f"- run folder: `{run_dir}`" if run_dir else "", ""]
    lines = header + [line for section in sections for line in _render(section, output_dir, 2)]
    report = output_dir / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n")
    (output_dir / "explanations.json").write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    logger.info("explanation report written to %s", report)
    return report


def _permutation_section(*, network, samples, names, task, use_image, n_repeats, seed, device, batch_size,
                         output_dir, result) -> Section:
    import pandas as pd

    importance = cohort_permutation_importance(network=network, samples=samples, names=names, task=task,
                                               use_image=use_image, n_repeats=n_repeats, seed=seed, device=device,
                                               batch_size=batch_size)
    result["cohort"]["permutation_importance"] = importance
    ordered = sorted(importance["importances"].items(), key=lambda kv: -kv[1]["mean"])
    bar = save_bar_figure(path=output_dir / "cohort_permutation_importance.png", names=[k for k, _ in ordered],
                          values=[v["mean"] for _, v in ordered], errors=[v["std"] for _, v in ordered],
                          title=f"Permutation importance ({importance['metric']} drop, {n_repeats} shuffles)",
                          xlabel=f"drop of {importance['metric']} (baseline {importance['baseline']:.3f})")
    table = pd.DataFrame([{"input": k, f"{importance['metric']} drop (mean)": v["mean"], "sd": v["std"]}
                          for k, v in ordered])
    return Section(title="Permutation importance", content=(
        f"Cohort {importance['metric']}: {importance['baseline']:.3f}. Each row shuffles one input across subjects."
        f"\n\n{_markdown_table(table)}\n\n![permutation importance]({bar.name})"))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _cohort_intro(use_image: bool, use_table: bool) -> str:
    parts = []
    if use_table:
        parts.append("attributes")
    if use_image:
        parts.append("the image")
    return f"What the network relies on across subjects ({' and '.join(parts) or 'no input'})."


def _target(network: nn.Module, inputs: Mapping[str, Any], task: str) -> int:
    if task != "classification":
        return 0
    with torch.no_grad():
        return int(logits_of(network(dict(inputs))).argmax(1)[0])


def _explain_subject(*, network, record, sample, names, task, class_names, output_dir, device, use_image, use_table,
                     target_layer, occlusion_mask_size, n_slices, ig_steps, result) -> Section:
    subject = str(record.get("subject_id", "?"))
    inputs = _collate([sample], device)
    target = _target(network, inputs, task)
    with torch.no_grad():
        logits = logits_of(network(dict(inputs))).float()
    if task == "classification":
        probability = float(torch.softmax(logits, 1)[0, target])
        predicted = class_names[target] if target < len(class_names) else str(target)
        summary = f"label: {record.get('label', '?')}; predicted: {predicted} (p = {probability:.3f})"
        score = f"p({predicted})"
    else:
        summary = f"label: {record.get('label', '?')}; prediction (standardised): {float(logits[0, 0]):.3f}"
        score = "prediction"
    entry: dict[str, Any] = {"summary": summary, "target": target}
    section = Section(title=f"Subject {subject}", content=summary)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in subject)
    if use_image:
        cam = grad_cam_map(network=network, inputs=inputs, target=target, target_layer=target_layer)
        occlusion = occlusion_map(network=network, inputs=inputs, target=target, task=task,
                                  mask_size=occlusion_mask_size)
        # blurring any patch shifts the input a little; drawn relative to the median patch, the map shows where
        # occlusion matters more (red: supports the prediction) or less (blue) than a typical patch
        typical = float(np.median(occlusion))
        png = save_saliency_figure(path=output_dir / f"{safe}_image.png", image=sample["image"].float().cpu().numpy(),
                                   maps={"Grad-CAM": cam, "occlusion - median": occlusion - typical},
                                   n_slices=n_slices, title=f"{subject}: {summary}")
        entry.update({"gradcam_shape": list(cam.shape), "occlusion_shape": list(occlusion.shape),
                      "image_shape": list(sample["image"].shape[1:]), "occlusion_median": typical,
                      "occlusion_max": float(occlusion.max()), "occlusion_min": float(occlusion.min())})
        section.subsections.append(Section(title="Image saliency", content=(
            f"Grad-CAM of {score} (1 = most important) and occlusion sensitivity: the drop of {score} when a patch "
            f"is blurred out, minus its median over the image ({typical:+.3f}, the effect of blurring a typical "
            f"patch); red regions support the prediction more than a typical patch, blue ones less."
            f"\n\n![image saliency]({png.name})")))
    if use_table:
        n_num = len(inputs["numerical"][0]) if inputs.get("numerical") is not None else 0
        ig = integrated_gradients_numerical(network=network, inputs=inputs, target=target, task=task, steps=ig_steps)
        ig_all = np.concatenate([ig, np.full(len(names) - n_num, np.nan, dtype=np.float32)])
        missing = missing_attribute_effect(network=network, inputs=inputs, target=target, task=task)
        import pandas as pd

        table = pd.DataFrame({"attribute": names, "value": [_raw_value(record, n) for n in names],
                              "integrated gradients": ig_all, f"{score} - {score} if missing": missing})
        labels = [f"{n} (missing)" if v == "missing" else n for n, v in zip(names, table["value"])]
        png = save_bar_figure(path=output_dir / f"{safe}_table.png", names=labels, values=missing, errors=None,
                              title=f"{subject}: effect of each attribute", xlabel=f"{score} minus {score} with the "
                              "attribute marked missing")
        entry.update({"integrated_gradients": dict(zip(names, ig_all.tolist())),
                      "missing_effect": dict(zip(names, missing.tolist()))})
        section.subsections.append(Section(title="Table attributions", content=(
            "Integrated gradients (numerical attributes, from the training median to the value) and the change "
            f"when the attribute is marked missing.\n\n{_markdown_table(table)}\n\n![table attributions]({png.name})")))
    result["subjects"][subject] = entry
    return section


def _baseline_transform(trained) -> Callable:
    from monai.transforms import (Compose, EnsureChannelFirstd, EnsureTyped, LoadImaged, NormalizeIntensityd,
                                  Resized)

    from monai_tabular.transforms import EncodeLabeld, EncodeTabled

    image = [LoadImaged(keys="image", image_only=True), EnsureChannelFirstd(keys="image"),
             EnsureTyped(keys="image", dtype=torch.float32),
             Resized(keys="image", spatial_size=trained.image_size, mode="area"),
             NormalizeIntensityd(keys="image", channel_wise=True)]
    table = [EncodeTabled(keys="table", schema=trained.schema), EncodeLabeld(keys="label", schema=trained.schema)]
    return Compose(image + table)


def explain_run(*, run_dir: str | Path, output_dir: str | Path | None = None, part: str = "auto",
                device: torch.device | str = "cpu", **options: Any) -> Path:
    """Explain a trained baseline run folder (``model.pt``, ``network.json``, ``schema.json``,
    ``preprocessing.json``, ``split.json``) on its test part (else validation part) and write the report.

    Args:
        run_dir: the run folder written by the baseline bundle's ``train.json``.
        output_dir: default ``<run_dir>/explain_<mode>``.
        part: ``"test"``, ``"val"``, ``"train"`` or ``"auto"`` (test if the run has one, else val).
        options: passed to :func:`write_explanation_report` (``subjects``, ``n_subjects``, ``mode`` ...).

    Example:
        >>> explain_run(run_dir="runs/fold0", subjects=["sub-0003"])   # doctest: +SKIP
        PosixPath('runs/fold0/explain_both/report.md')
    """
    from monai_tabular.engines.setup import load_json, load_run
    from monai_tabular.handlers import load_checkpoint
    from monai_tabular.networks import create_classifier

    run_dir = Path(run_dir)
    trained = load_run(run_dir)
    split = load_json(run_dir / "split.json")
    chosen = ("test" if split.get("test") else "val") if part == "auto" else part
    if chosen not in ("train", "val", "test") or not split.get(chosen):
        raise ValueError(f"{run_dir / 'split.json'} has no {chosen!r} part to explain")
    network = create_classifier(**trained.network_args)
    load_checkpoint(trained.checkpoint, {"network": network})
    mode = options.pop("mode", "both")
    return write_explanation_report(network=network, records=split[chosen], transform=_baseline_transform(trained),
                                    schema=trained.schema, output_dir=output_dir or run_dir / f"explain_{mode}",
                                    mode=mode, device=device, run_dir=run_dir,
                                    title=f"Explanation report ({chosen} part)", **options)
