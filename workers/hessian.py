"""Hessian spectra of the training loss (Fig. 7): top-k eigenvalues by Lanczos on Hessian-vector products.

H v is one double backward pass (Pearlmutter's trick); `scipy.sparse.linalg.eigsh` runs Lanczos on a
`LinearOperator` in float64 on the host, calling the model on its device for each product. The smallest
eigenvalue comes from the shifted operator lambda_max I - H, whose largest eigenvalue is
lambda_max - lambda_min. BatchNorm running statistics are restored afterwards, so a probe never changes
the training trajectory (resume stays bitwise identical).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh


def hvp_operator(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> LinearOperator:
    """The Hessian of loss_fn(model(x), y) w.r.t. the model's parameters as a float64 LinearOperator."""
    params = [p for p in model.parameters() if p.requires_grad]
    n = sum(p.numel() for p in params)
    loss = loss_fn(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat_grad = torch.cat([g.reshape(-1) for g in grads])
    dtype, device = flat_grad.dtype, flat_grad.device

    def matvec(v: np.ndarray) -> np.ndarray:
        vec = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64).ravel(), device=device).to(dtype)
        hv = torch.autograd.grad(flat_grad, params, grad_outputs=vec, retain_graph=True)
        return torch.cat([h.reshape(-1) for h in hv]).detach().to("cpu", torch.float64).numpy()

    return LinearOperator((n, n), matvec=matvec, dtype=np.float64)


def hessian_eigenvalues(model: torch.nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, *, k: int = 20,
                        smallest: bool = False, tol: float = 1e-4, seed: int = 0,
                        maxiter: int = 2000) -> dict[str, np.ndarray]:
    """Top-k Hessian eigenvalues (descending) of the batch loss; with `smallest`, also the smallest one.

    Returns {"top": shape (k,), "smallest": shape (1,) or (0,)}. `tol` is Lanczos' relative accuracy (the
    products run in the model's precision, so float32 models cannot support much below 1e-5); after
    `maxiter` restarts the converged eigenvalues are kept and the others are NaN. The model's mode is kept (a training-mode
    BatchNorm normalises with the probe batch's statistics, as in training); its buffers are restored.
    """
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    try:
        op = hvp_operator(model, loss_fn, x, y)
        k = min(k, op.shape[0] - 1)
        v0 = np.random.default_rng(seed).standard_normal(op.shape[0])
        top = -np.sort(-_eigsh(op, k, tol=tol, v0=v0, maxiter=maxiter))  # descending, unconverged (NaN) last
        low = np.empty(0)
        if smallest:
            shift = float(top[0])
            shifted = LinearOperator(op.shape, matvec=lambda v: shift * v - op.matvec(v), dtype=np.float64)
            low = shift - _eigsh(shifted, 1, tol=tol, v0=v0, maxiter=maxiter)
    finally:
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
    return {"top": top, "smallest": low}


def _eigsh(op: LinearOperator, k: int, *, tol: float, v0: np.ndarray, maxiter: int) -> np.ndarray:
    """The k largest eigenvalues; those not converged after maxiter are NaN (never an exception)."""
    try:
        return eigsh(op, k=k, which="LA", tol=tol, v0=v0, maxiter=maxiter, return_eigenvectors=False)
    except ArpackNoConvergence as e:
        return np.r_[np.asarray(e.eigenvalues, dtype=np.float64), np.full(k - len(e.eigenvalues), np.nan)]


def probe_rows(step: int, eigenvalues: dict[str, np.ndarray]) -> list[dict]:
    """Rows of hessian.parquet: rank 1..k for the top eigenvalues (1 = largest), rank -1 for the smallest."""
    rows = [{"step": step, "rank": r + 1, "eigenvalue": float(v)} for r, v in enumerate(eigenvalues["top"])]
    return rows + [{"step": step, "rank": -1, "eigenvalue": float(v)} for v in eigenvalues["smallest"]]
