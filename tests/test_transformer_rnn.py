"""The from-scratch RNN against torch.nn.RNN, and the recall task of notebook 03."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.transformer.rnn import (
    RNN,
    AttentionRecaller,
    RNNCell,
    RNNRecaller,
    recall_accuracy,
    recall_dataset,
)


def test_rnn_matches_torch_rnn_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    reference = nn.RNN(5, 7, batch_first=True)
    ours = RNN(5, 7).load_from_torch(reference)
    x = torch.randn(3, 11, 5)
    h0 = torch.randn(3, 7)
    out_ref, h_ref = reference(x, h0[None])
    out, h_last = ours(x, h0)
    torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(h_last, h_ref[0], atol=1e-6, rtol=1e-5)
    # Same function, so the same gradients through all eleven steps.
    out.sum().backward()
    out_ref.sum().backward()
    torch.testing.assert_close(ours.cell.weight_hh.grad, reference.weight_hh_l0.grad, atol=1e-5, rtol=1e-4)


def test_rnn_cell_is_one_step_and_initialised_like_torch() -> None:
    cell = RNNCell(4, 16)
    x, h = torch.randn(2, 4), torch.zeros(2, 16)
    expected = torch.tanh(x @ cell.weight_ih.T + cell.bias_ih + cell.bias_hh)
    torch.testing.assert_close(cell(x, h), expected)
    assert all(p.abs().max() <= 1 / 16**0.5 for p in cell.parameters())


def test_rnn_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="reference"):
        RNN(3, 4).load_from_torch(nn.RNN(3, 4, num_layers=2))
    with pytest.raises(ValueError, match="reference"):
        RNN(3, 4).load_from_torch(nn.RNN(3, 4, bidirectional=True))


def test_recall_dataset_layout() -> None:
    inputs, targets = recall_dataset(50, 6, n_symbols=4, n_distractors=3, generator=torch.Generator().manual_seed(0))
    assert inputs.shape == (50, 8) and targets.shape == (50,)
    assert torch.equal(inputs[:, 0], targets)  # the answer is the first token
    assert ((inputs[:, 1:-1] >= 4) & (inputs[:, 1:-1] < 7)).all()  # k distractors, never a symbol
    assert (inputs[:, -1] == 7).all()  # the query token


def test_both_recallers_give_logits_over_the_symbols() -> None:
    inputs, targets = recall_dataset(10, 3, generator=torch.Generator().manual_seed(1))
    for model in (RNNRecaller(17, 8, 8), AttentionRecaller(17, 8, 8, max_len=5)):
        assert model(inputs).shape == (10, 8)
        assert 0.0 <= recall_accuracy(model, inputs, targets) <= 1.0


def test_attention_recalls_a_distant_token_after_brief_training() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    inputs, targets = recall_dataset(512, 12, generator=generator)
    model = AttentionRecaller(17, 16, 8, max_len=14)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = nn.functional.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test_inputs, test_targets = recall_dataset(256, 12, generator=generator)
    assert recall_accuracy(model, test_inputs, test_targets) > 0.9
