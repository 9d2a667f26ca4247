"""A recurrent network from scratch, and the experiment that shows its limit: recall a token seen k steps ago.

`RNNCell` is Elman's cell, h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), with `torch.nn.RNN`'s parameter
names and initialisation; `RNN` unrolls it over a sequence, one step after the other. `recall_dataset` builds the
task (a symbol, k distractors, then a query token: answer the symbol) and `RNNRecaller` / `AttentionRecaller`
solve it with a recurrent state or with one attention step (notebook 03)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import MultiHeadAttention


class RNNCell(nn.Module):
    """One step of a tanh RNN: `forward(x_t, h_prev) -> h_t`, shapes `(batch, input_size)` and `(batch, hidden)`."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)  # torch.nn.RNN's initialisation
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x_t @ self.weight_ih.T + self.bias_ih + h_prev @ self.weight_hh.T + self.bias_hh)


class RNN(nn.Module):
    """A one-layer tanh RNN over `(batch, seq_len, input_size)` inputs (batch first), one step per position.

    Returns `(outputs, h_last)`: every hidden state `(batch, seq_len, hidden)` and the last one `(batch, hidden)`,
    like `torch.nn.RNN(input_size, hidden_size, batch_first=True)` (whose weights `load_from_torch` copies)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = RNNCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = x.new_zeros(x.shape[0], self.cell.hidden_size) if h0 is None else h0
        outputs = []
        for t in range(x.shape[1]):  # step t needs h from step t - 1: no parallelism over time
            h = self.cell(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h

    @torch.no_grad()
    def load_from_torch(self, reference: nn.RNN) -> RNN:
        """Copy the weights of a one-layer, tanh, `torch.nn.RNN` with biases; returns self."""
        plain = reference.num_layers == 1 and reference.nonlinearity == "tanh" and reference.bias
        if not plain or reference.bidirectional:
            raise ValueError("`reference` must be a one-layer, one-direction tanh nn.RNN with biases.")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(self.cell, name).copy_(getattr(reference, f"{name}_l0"))
        return self


def recall_dataset(
    n_examples: int, distance: int, *, n_symbols: int = 8, n_distractors: int = 8, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The recall task: `[symbol, k distractors, query]` -> `symbol`, for k = `distance`.

    Token ids: symbols `0 .. n_symbols - 1`, distractors after them, the query token last
    (`vocab_size = n_symbols + n_distractors + 1`). Returns `(inputs (n, distance + 2), targets (n,))`."""
    symbols = torch.randint(0, n_symbols, (n_examples,), generator=generator)
    distractors = torch.randint(n_symbols, n_symbols + n_distractors, (n_examples, distance), generator=generator)
    query = torch.full((n_examples, 1), n_symbols + n_distractors)
    return torch.cat([symbols[:, None], distractors, query], dim=1), symbols


class RNNRecaller(nn.Module):
    """Embedding -> the from-scratch `RNN` -> a linear read-out of the last hidden state: logits over the symbols."""

    def __init__(self, vocab_size: int, d_model: int, n_symbols: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.rnn = RNN(d_model, d_model)
        self.head = nn.Linear(d_model, n_symbols)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(ids))[1])


class AttentionRecaller(nn.Module):
    """Token + learned position embeddings -> one single-head attention layer -> a linear read-out at the last
    position (the query token attends to every earlier token directly)."""

    def __init__(self, vocab_size: int, d_model: int, n_symbols: int, max_len: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        self.attention = MultiHeadAttention(d_model, n_heads=1)
        self.head = nn.Linear(d_model, n_symbols)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        return self.head(self.attention(x)[:, -1])


def recall_accuracy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The share of examples whose symbol the model names (argmax of its logits)."""
    with torch.no_grad():
        return (model(inputs).argmax(dim=-1) == targets).float().mean().item()
