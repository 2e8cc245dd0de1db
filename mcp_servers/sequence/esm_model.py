"""Loading ESM-2 (fair-esm) once per process, by name or from a local checkpoint, on the GPU when there is one.

- A name (e.g. ``esm2_t6_8M_UR50D``, ``esm2_t33_650M_UR50D``) is looked up in torch hub's cache
  (``~/.cache/torch/hub/checkpoints/<name>.pt`` plus ``<name>-contact-regression.pt``) and otherwise downloaded by
  fair-esm when the machine is online.
- A path to a ``.pt`` file is loaded as a fair-esm checkpoint; the contact regression weights are read from
  ``<stem>-contact-regression.pt`` beside it when present (without them contact maps are unavailable).
- torch >= 2.6 loads with ``weights_only=True``; fair-esm checkpoints hold an ``argparse.Namespace``, which is
  allowed through ``torch.serialization.add_safe_globals`` (nothing else is unpickled).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelUnavailableError
from .parsing import STANDARD_AA

log = logging.getLogger(__name__)

_MODELS: dict[tuple[str, str], "LoadedModel"] = {}
_LOCK = threading.Lock()

HOW_TO_PROVIDE = (
    "Provide a model in one of these ways: (1) set BIOAGENT_SEQUENCE__ESM_MODEL to a local fair-esm checkpoint "
    "file, e.g. /models/esm2_t6_8M_UR50D.pt, with esm2_t6_8M_UR50D-contact-regression.pt beside it (files from "
    "https://dl.fbaipublicfiles.com/fair-esm/models/ and .../fair-esm/regression/); (2) copy those files into "
    "torch hub's cache ({hub}/checkpoints/); or (3) run once on a machine with internet access so fair-esm can "
    "download the named model. Parsing, properties and Rep annotation work without a model."
)


@dataclass
class LoadedModel:
    """A loaded ESM model with what the scoring code needs."""

    spec: str  # the name or path it was loaded from
    name: str  # short model name shown in results
    model_id: str  # stable identity for cache keys (name, or path + size + mtime)
    model: object
    alphabet: object
    device: object
    num_layers: int
    embed_dim: int
    has_contact_regression: bool
    aa_idx: list[int] = field(default_factory=list)  # alphabet indices of STANDARD_AA, in that order
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def describe(self) -> dict:
        return {"model": self.name, "source": self.spec, "layers": self.num_layers, "embed_dim": self.embed_dim,
                "parameters": self.num_params, "device": str(self.device)}

    def encode(self, sequence: str):
        """(1, L+2) token tensor: BOS + residues + EOS, on the model's device."""
        import torch

        idx = [self.alphabet.cls_idx] + [self.alphabet.get_idx(c) for c in sequence] + [self.alphabet.eos_idx]
        return torch.tensor([idx], dtype=torch.long, device=self.device)


def resolve_device(spec: str | None = None):
    import torch

    if spec:
        return torch.device(spec)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _allow_namespace() -> None:
    import torch

    add = getattr(torch.serialization, "add_safe_globals", None)
    if add is not None:
        add([argparse.Namespace])


def _torch_load(path: Path) -> dict:
    import torch

    _allow_namespace()
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        raise ModelUnavailableError(
            f"Could not read the ESM checkpoint {path}: {type(exc).__name__}: {exc}. Is it a fair-esm checkpoint "
            "(a dict with 'model' and 'cfg')?") from exc


def _is_path(spec: str) -> bool:
    return spec.endswith(".pt") or os.sep in spec or spec.startswith(".") or Path(spec).exists()


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _load_from_files(model_path: Path, display_name: str):
    import esm

    model_data = _torch_load(model_path)
    reg_path = Path(str(model_path.with_suffix("")) + "-contact-regression.pt")
    regression = _torch_load(reg_path) if reg_path.exists() else None
    # fair-esm picks the ESM-2 code path from the name; a local file of any name holding an ESM-2 config works.
    core_name = display_name if display_name.startswith("esm") else (
        "esm2_" + display_name if "cfg" in model_data else display_name)
    try:
        model, alphabet = esm.pretrained.load_model_and_alphabet_core(core_name, model_data, regression)
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailableError(f"The checkpoint {model_path} could not be loaded by fair-esm: {exc}") from exc
    return model, alphabet, regression is not None


def load_esm(spec: str, device: str | None = None) -> LoadedModel:
    """Load (once per process) the ESM model named or located by `spec` onto `device` (default: cuda if present)."""
    dev = resolve_device(device)
    key = (spec, str(dev))
    with _LOCK:
        if key in _MODELS:
            return _MODELS[key]
        try:
            import esm  # noqa: F401
            import torch
        except ModuleNotFoundError as exc:
            raise ModelUnavailableError(
                f"ESM needs the '{exc.name}' package, which is not installed: pip install 'bioagent[esm]' "
                "(fair-esm). Parsing, properties and Rep annotation work without it.") from exc
        hub = Path(torch.hub.get_dir())
        if _is_path(spec):
            path = Path(spec).expanduser()
            if not path.is_file():
                raise ModelUnavailableError(f"ESM checkpoint not found: {path}. " + HOW_TO_PROVIDE.format(hub=hub))
            name = path.stem
            model, alphabet, has_reg = _load_from_files(path, name)
            model_id = _file_id(path)
        else:
            name = spec
            cached = hub / "checkpoints" / f"{spec}.pt"
            if cached.is_file():
                model, alphabet, has_reg = _load_from_files(cached, spec)
            else:
                import esm

                _allow_namespace()
                if not hasattr(esm.pretrained, spec):
                    raise ModelUnavailableError(
                        f"Unknown ESM model name '{spec}'. Known ESM-2 names: esm2_t6_8M_UR50D, esm2_t12_35M_UR50D, "
                        "esm2_t30_150M_UR50D, esm2_t33_650M_UR50D, esm2_t36_3B_UR50D; or give a checkpoint path.")
                try:
                    model, alphabet = esm.pretrained.load_model_and_alphabet_hub(spec)
                except Exception as exc:  # noqa: BLE001 - offline: URLError, HTTPError, RuntimeError...
                    raise ModelUnavailableError(
                        f"ESM model '{spec}' is not available on this machine and could not be downloaded "
                        f"({type(exc).__name__}: {exc}). " + HOW_TO_PROVIDE.format(hub=hub)) from exc
                has_reg = True
            model_id = spec
        model = model.eval().to(dev)
        loaded = LoadedModel(
            spec=spec, name=name, model_id=model_id, model=model, alphabet=alphabet, device=dev,
            num_layers=int(getattr(model, "num_layers", 0)), embed_dim=int(getattr(model, "embed_dim", 0)),
            has_contact_regression=has_reg, aa_idx=[alphabet.get_idx(a) for a in STANDARD_AA])
        log.info("loaded ESM model %s on %s (%d parameters)", name, dev, loaded.num_params)
        _MODELS[key] = loaded
        return loaded


def get_model(settings=None) -> LoadedModel:
    """The process-wide model chosen by settings (BIOAGENT_SEQUENCE__ESM_MODEL / __ESM_DEVICE)."""
    if settings is None:
        from agent.settings import get_settings

        settings = get_settings()
    seq = settings.sequence
    lm = load_esm(seq.esm_model, seq.esm_device)
    if seq.gpu_tf32 and getattr(lm.device, "type", "") == "cuda":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = True  # process-wide; see docs/sequence.md (benchmark)
    return lm


def clear_models() -> None:
    """Forget loaded models (tests)."""
    with _LOCK:
        _MODELS.clear()


def model_digest(model_id: str) -> str:
    return hashlib.sha256(model_id.encode()).hexdigest()[:16]


# ESM-2 architectures (layers, embedding dim, attention heads) by size, as in fair-esm's pretrained models.
ARCHITECTURES = {
    "tiny": (2, 32, 4),
    "8M": (6, 320, 20),
    "35M": (12, 480, 20),
    "150M": (30, 640, 20),
    "650M": (33, 1280, 20),
    "3B": (36, 2560, 40),
}


def random_esm2(arch: str = "tiny", seed: int = 0):
    """An ESM-2 model with random weights (for tests and timing; it knows nothing about proteins)."""
    import esm
    import torch
    from esm.model.esm2 import ESM2

    layers, dim, heads = ARCHITECTURES[arch]
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
        model = ESM2(num_layers=layers, embed_dim=dim, attention_heads=heads, alphabet=alphabet, token_dropout=True)
    finally:
        torch.random.set_rng_state(gen_state)
    return model, alphabet


def write_random_checkpoint(directory, arch: str = "tiny", name: str | None = None, seed: int = 0) -> Path:
    """Write a random-weight ESM-2 in fair-esm's checkpoint layout: ``<name>.pt`` (model + cfg with an
    argparse.Namespace, keys under ``encoder.``) and ``<name>-contact-regression.pt`` beside it."""
    import torch

    layers, dim, heads = ARCHITECTURES[arch]
    model, _ = random_esm2(arch, seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = name or f"esm2_t{layers}_{arch}_random"
    state = model.state_dict()
    regression = {k: v for k, v in state.items() if k.startswith("contact_head.regression")}
    body = {"encoder." + k: v for k, v in state.items() if k not in regression}
    cfg = {"model": argparse.Namespace(encoder_layers=layers, encoder_embed_dim=dim, encoder_attention_heads=heads,
                                       token_dropout=True)}
    path = directory / f"{name}.pt"
    torch.save({"model": body, "cfg": cfg}, path)
    torch.save({"model": regression}, directory / f"{name}-contact-regression.pt")
    return path


def wrap_model(model, alphabet, name: str, device=None, model_id: str | None = None) -> LoadedModel:
    """A LoadedModel around an in-memory fair-esm model (benchmarks)."""
    dev = resolve_device(device)
    model = model.eval().to(dev)
    return LoadedModel(spec=name, name=name, model_id=model_id or f"memory:{name}:{id(model)}", model=model,
                       alphabet=alphabet, device=dev, num_layers=int(model.num_layers),
                       embed_dim=int(model.embed_dim), has_contact_regression=True,
                       aa_idx=[alphabet.get_idx(a) for a in STANDARD_AA])
