"""The S4D model of the state-spaces example, with the parameter names of its state_dict.

`S4Model` follows `example.py` of state-spaces/s4 and `S4D` / `S4DKernel` follow
`models/s4/s4d.py`, so that a state_dict of either loads into the other with no renaming.
Two additions, both off by default: batch norm instead of layer norm (`norm="batch"`), and a
recurrent forward (`S4D.forward_recurrent`) used to check the convolution against the step-by-step
form that hardware executes.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class DropoutNd(nn.Module):
    """Dropout that ties the mask across the sequence axis (as state-spaces' DropoutNd)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if p < 0 or p >= 1:
            raise ValueError(f"dropout probability has to be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        mask = torch.rand(*x.shape[:-1], 1, device=x.device) < 1.0 - self.p
        return x * mask * (1.0 / (1 - self.p))


class S4DKernel(nn.Module):
    """Generates the convolution kernel from diagonal SSM parameters (ZOH discretisation)."""

    def __init__(self, d_model, N=64, dt_min=0.001, dt_max=0.1, lr=None):
        super().__init__()
        H = d_model
        log_dt = torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        C = torch.randn(H, N // 2, dtype=torch.cfloat)
        self.C = nn.Parameter(torch.view_as_real(C))
        self.register("log_dt", log_dt, lr)
        log_A_real = torch.log(0.5 * torch.ones(H, N // 2))
        A_imag = math.pi * torch.arange(N // 2).float().unsqueeze(0).repeat(H, 1)
        self.register("log_A_real", log_A_real, lr)
        self.register("A_imag", A_imag, lr)

    def discrete(self):
        """Returns (Abar, Bbar, C) as complex tensors of shape (H, M)."""
        dt = torch.exp(self.log_dt)
        C = torch.view_as_complex(self.C)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt.unsqueeze(-1)
        Abar = torch.exp(dtA)
        Bbar = (Abar - 1.0) / A
        return Abar, Bbar, C

    def forward(self, L):
        dt = torch.exp(self.log_dt)
        C = torch.view_as_complex(self.C)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt.unsqueeze(-1)
        K = dtA.unsqueeze(-1) * torch.arange(L, device=A.device)
        C = C * (torch.exp(dtA) - 1.0) / A
        return 2 * torch.einsum("hn, hnl -> hl", C, torch.exp(K)).real

    def register(self, name, tensor, lr=None):
        """Registers a tensor with a configurable learning rate and no weight decay."""
        if lr == 0.0:
            self.register_buffer(name, tensor)
        else:
            self.register_parameter(name, nn.Parameter(tensor))
            optim = {"weight_decay": 0.0}
            if lr is not None:
                optim["lr"] = lr
            setattr(getattr(self, name), "_optim", optim)


class S4D(nn.Module):
    def __init__(self, d_model, d_state=64, dropout=0.0, transposed=True, **kernel_args):
        super().__init__()
        self.h = d_model
        self.n = d_state
        self.d_output = self.h
        self.transposed = transposed
        self.D = nn.Parameter(torch.randn(self.h))
        self.kernel = S4DKernel(self.h, N=self.n, **kernel_args)
        self.activation = nn.GELU()
        self.dropout = DropoutNd(dropout) if dropout > 0.0 else nn.Identity()
        self.output_linear = nn.Sequential(
            nn.Conv1d(self.h, 2 * self.h, kernel_size=1),
            nn.GLU(dim=-2),
        )

    def ssm_conv(self, u):
        """The SSM part, y = K * u + D u, for u of shape (B, H, L)."""
        L = u.size(-1)
        k = self.kernel(L=L)
        k_f = torch.fft.rfft(k, n=2 * L)
        u_f = torch.fft.rfft(u, n=2 * L)
        y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L]
        return y + u * self.D.unsqueeze(-1)

    def ssm_recurrent(self, u):
        """The same SSM, stepped through the complex diagonal state (for checks, slow)."""
        Abar, Bbar, C = self.kernel.discrete()
        x = torch.zeros(u.shape[0], self.h, Abar.shape[-1], dtype=Abar.dtype, device=u.device)
        ys = []
        for t in range(u.shape[-1]):
            x = Abar * x + Bbar * u[..., t].unsqueeze(-1)
            ys.append(2 * (C * x).sum(-1).real + self.D * u[..., t])
        return torch.stack(ys, dim=-1)

    def forward(self, u, recurrent=False, **kwargs):
        if not self.transposed:
            u = u.transpose(-1, -2)
        y = self.ssm_recurrent(u) if recurrent else self.ssm_conv(u)
        y = self.dropout(self.activation(y))
        y = self.output_linear(y)
        if not self.transposed:
            y = y.transpose(-1, -2)
        return y, None


class S4Model(nn.Module):
    """The state-spaces S4D example model: encoder, n_layers residual S4D blocks, mean pool, decoder."""

    def __init__(self, d_input, d_output=10, d_model=256, n_layers=4, dropout=0.2, prenorm=False,
                 d_state=64, norm="layer", norm_eps=1e-5, lr=None):
        super().__init__()
        if norm not in ("layer", "batch"):
            raise ValueError(f"norm must be 'layer' or 'batch', got {norm!r}")
        self.prenorm = prenorm
        self.norm = norm
        self.norm_eps = norm_eps
        self.d_input, self.d_output, self.d_model = d_input, d_output, d_model
        self.d_state, self.n_layers = d_state, n_layers
        self.encoder = nn.Linear(d_input, d_model)
        self.s4_layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.dropouts = nn.ModuleList()
        for _ in range(n_layers):
            kernel_args = {} if lr is None else {"lr": lr}
            self.s4_layers.append(S4D(d_model, d_state=d_state, dropout=dropout, transposed=True,
                                      **kernel_args))
            if norm == "layer":
                self.norms.append(nn.LayerNorm(d_model, eps=norm_eps))
            else:
                self.norms.append(nn.BatchNorm1d(d_model, eps=norm_eps))
            self.dropouts.append(DropoutNd(dropout) if dropout > 0 else nn.Identity())
        self.decoder = nn.Linear(d_model, d_output)

    def config(self) -> dict:
        return dict(d_input=self.d_input, d_output=self.d_output, d_model=self.d_model,
                    d_state=self.d_state, n_layers=self.n_layers, prenorm=int(self.prenorm),
                    norm=self.norm, norm_eps=float(self.norm_eps))

    def _norm(self, norm, x):
        """x is (B, H, L); layer norm acts over H, batch norm over channel H."""
        if self.norm == "layer":
            return norm(x.transpose(-1, -2)).transpose(-1, -2)
        return norm(x)

    def forward(self, x, recurrent=False):
        x = self.encoder(x)
        x = x.transpose(-1, -2)
        for layer, norm, dropout in zip(self.s4_layers, self.norms, self.dropouts):
            z = x
            if self.prenorm:
                z = self._norm(norm, z)
            z, _ = layer(z, recurrent=recurrent)
            z = dropout(z)
            x = z + x
            if not self.prenorm:
                x = self._norm(norm, x)
        x = x.transpose(-1, -2)
        x = x.mean(dim=1)
        return self.decoder(x)

