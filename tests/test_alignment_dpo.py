"""utils.alignment.dpo: the DPO loss (equal to TRL's DPOTrainer on the same batch, log 2 when policy = reference,
gradients that raise the chosen answer and lower the rejected one), the pair batches, the training loop on a LoRA
policy whose reference is the same model with the adapter off, the adapter cache, and refused arguments."""

from __future__ import annotations

import copy
import math
import tempfile
from dataclasses import replace
from typing import Any

import pytest
import torch
from tiny_models import tiny_llama as shared_tiny_llama
from transformers import LlamaForCausalLM

from utils.alignment import dpo
from utils.alignment.dpo import (
    DPO_RECIPE,
    DPOCollator,
    DPOLoss,
    DPOLossFn,
    DPORecipe,
    answer_log_probs,
    dpo_loss,
    dpo_policy_dir,
    dpo_training_info,
    load_dpo_policy,
    preference_log_probs,
    save_dpo_policy,
    tokenize_pair,
    train_dpo,
)
from utils.generation.scoring import sequence_log_probs
from utils.training.instruction import tokenize_example
from utils.training.lora import add_lora, disable_lora, lora_layers, lora_state_dict

# Made-up pairs (the notebook uses the course's movie-review pairs): the answers differ in length on purpose.
PAIRS = [
    {"prompt": "Recommend a fruit.", "chosen": "A ripe mango.", "rejected": "Nothing, fruit is boring."},
    {"prompt": "Greet the reader.", "chosen": "Hello, and welcome!", "rejected": "Go away."},
    {"prompt": "Describe the sea in three words.", "chosen": "Vast, blue, restless.", "rejected": "Wet."},
]


def tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    return shared_tiny_llama(vocab_size, seed=seed, max_position_embeddings=128)


def lora_policy(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A tiny Llama with LoRA adapters whose B is random, so the policy differs from its reference."""
    model = tiny_llama(vocab_size, seed)
    add_lora(model, r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    torch.manual_seed(seed + 100)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.B.normal_(std=0.5)
    return model


def trl_trainer(policy: Any, reference: Any, tokenizer: Any, beta: float, loss_type: str = "sigmoid") -> Any:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    conversational = [
        {
            "prompt": [{"role": "user", "content": p["prompt"]}],
            "chosen": [{"role": "assistant", "content": p["chosen"]}],
            "rejected": [{"role": "assistant", "content": p["rejected"]}],
        }
        for p in PAIRS
    ]
    args = DPOConfig(
        output_dir=tempfile.mkdtemp(),
        beta=beta,
        loss_type=[loss_type],
        max_length=96,
        per_device_train_batch_size=len(PAIRS),
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
    )
    return DPOTrainer(
        model=policy,
        ref_model=reference,
        args=args,
        train_dataset=Dataset.from_list(conversational),
        processing_class=tokenizer,
    )


def test_loss_equals_trl_dpo_trainer(tokenizer: Any) -> None:
    """Same tokens, same batch layout, same loss and implicit rewards as TRL's DPOTrainer (sigmoid loss) with a
    separate reference model; beta is not TRL's default, so a hard-coded 0.1 would show."""
    beta = 0.3
    policy, reference = tiny_llama(len(tokenizer), seed=1), tiny_llama(len(tokenizer), seed=2)
    trainer = trl_trainer(policy, reference, tokenizer, beta)
    trl_rows = list(trainer.train_dataset)
    for pair, theirs in zip(PAIRS, trl_rows, strict=True):
        ours = tokenize_pair(tokenizer, pair, max_length=96)
        n_prompt = len(theirs["prompt_ids"])
        assert ours["chosen"]["input_ids"] == theirs["prompt_ids"] + theirs["chosen_ids"]
        assert ours["rejected"]["input_ids"] == theirs["prompt_ids"] + theirs["rejected_ids"]
        assert ours["chosen"]["completion_mask"] == [0] * n_prompt + [1] * len(theirs["chosen_ids"])
    trl_batch = trainer.data_collator(trl_rows)
    our_batch = DPOCollator(tokenizer, max_length=96)(PAIRS)
    for key in ("input_ids", "attention_mask", "completion_mask"):
        assert torch.equal(our_batch[key], trl_batch[key]), key
    with torch.no_grad():
        theirs = trainer.compute_loss(policy.eval(), dict(trl_batch))
        pc, pr = preference_log_probs(policy, tokenizer, PAIRS, max_length=96)
        rc, rr = preference_log_probs(reference, tokenizer, PAIRS, max_length=96)
    ours = dpo_loss(pc, pr, rc, rr, beta)
    torch.testing.assert_close(ours.loss, theirs, atol=1e-5, rtol=1e-5)
    metrics = trainer._metrics["eval"]  # the policy ran in eval mode
    assert ours.chosen_rewards.mean().item() == pytest.approx(metrics["rewards/chosen"][-1], abs=1e-5)
    assert ours.rejected_rewards.mean().item() == pytest.approx(metrics["rewards/rejected"][-1], abs=1e-5)
    assert ours.margins.mean().item() == pytest.approx(metrics["rewards/margins"][-1], abs=1e-5)
    assert ours.accuracy == pytest.approx(metrics["rewards/accuracies"][-1])
    assert abs(ours.loss.item() - math.log(2)) > 1e-3, "the two models differ: the loss must not be log 2"


def test_lora_loss_fn_equals_trl_with_the_base_model_as_reference(tokenizer: Any) -> None:
    """DPOLossFn scores the reference as the policy with its adapter off: the same loss as TRL given a separate copy
    of the base model."""
    beta = 0.2
    policy = lora_policy(len(tokenizer), seed=3)
    base = tiny_llama(len(tokenizer), seed=3)  # the same base weights, no adapter
    batch = DPOCollator(tokenizer, max_length=96)(PAIRS)
    loss_fn = DPOLossFn(beta)
    with torch.no_grad():
        ours, n_pairs = loss_fn(policy.eval(), batch)
    trainer = trl_trainer(copy.deepcopy(policy), base, tokenizer, beta)
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model.eval(), dict(trainer.data_collator(list(trainer.train_dataset))))
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert n_pairs == len(PAIRS) and len(loss_fn.eval_log) == 1 and not loss_fn.train_log
    assert loss_fn.eval_log[0]["loss"] == pytest.approx(ours.item())


def test_ipo_loss_equals_trl_ipo_on_the_same_batch(tokenizer: Any) -> None:
    """loss_type="ipo" is TRL 1.16's "ipo" loss: each log-ratio averaged over its answer's tokens, then
    (difference - 1 / (2 beta)) ** 2; the implicit rewards stay beta times the summed log-ratios, as TRL logs them."""
    beta = 0.3
    policy, reference = tiny_llama(len(tokenizer), seed=1), tiny_llama(len(tokenizer), seed=2)
    trainer = trl_trainer(policy, reference, tokenizer, beta, loss_type="ipo")
    batch = DPOCollator(tokenizer, max_length=96)(PAIRS)
    with torch.no_grad():
        theirs = trainer.compute_loss(policy.eval(), dict(trainer.data_collator(list(trainer.train_dataset))))
        pc, pr = preference_log_probs(policy, tokenizer, PAIRS, max_length=96)
        rc, rr = preference_log_probs(reference, tokenizer, PAIRS, max_length=96)
    n_chosen, n_rejected = batch["completion_mask"].sum(dim=1).chunk(2)
    assert not torch.equal(n_chosen, n_rejected), "answers of different lengths, so the averaging shows"
    ours = dpo_loss(pc, pr, rc, rr, beta, loss_type="ipo", chosen_lengths=n_chosen, rejected_lengths=n_rejected)
    torch.testing.assert_close(ours.loss, theirs, atol=1e-5, rtol=1e-5)
    by_hand = ((pc - rc) / n_chosen - (pr - rr) / n_rejected - 1 / (2 * beta)) ** 2
    torch.testing.assert_close(ours.loss, by_hand.mean())
    summed = dpo_loss(
        pc, pr, rc, rr, beta, loss_type="ipo", chosen_lengths=torch.ones(3), rejected_lengths=torch.ones(3)
    )
    assert abs(summed.loss.item() - theirs.item()) > 1e-3, "the paper's summed form is another number"
    assert ours.chosen_rewards.mean().item() == pytest.approx(trainer._metrics["eval"]["rewards/chosen"][-1], abs=1e-5)
    # the loss function of the training loop, with the adapter-off reference, gives TRL's IPO loss too
    lora = lora_policy(len(tokenizer), seed=3)
    ipo_trainer = trl_trainer(copy.deepcopy(lora), tiny_llama(len(tokenizer), seed=3), tokenizer, 0.2, loss_type="ipo")
    with torch.no_grad():
        fn_loss, _ = DPOLossFn(0.2, loss_type="ipo")(lora.eval(), batch)
        trl_loss = ipo_trainer.compute_loss(
            ipo_trainer.model.eval(), dict(ipo_trainer.data_collator(list(ipo_trainer.train_dataset)))
        )
    torch.testing.assert_close(fn_loss, trl_loss, atol=1e-5, rtol=1e-5)


def test_ipo_minimum_is_a_margin_of_one_over_two_beta() -> None:
    """IPO pulls the averaged log-ratio difference to 1 / (2 beta) and no further (DPO's sigmoid loss keeps falling)."""
    beta, ones, zero = 0.25, torch.ones(1), torch.zeros(1)

    def ipo_of(chosen_logp: float) -> Any:
        chosen = torch.tensor([chosen_logp])
        return dpo_loss(chosen, zero, zero, zero, beta, loss_type="ipo", chosen_lengths=ones, rejected_lengths=ones)

    at_target, beyond = ipo_of(2.0), ipo_of(4.0)
    assert at_target.loss.item() == 0.0 and beyond.loss.item() == pytest.approx(4.0)
    sigmoid = [dpo_loss(torch.tensor([m]), torch.zeros(1), torch.zeros(1), torch.zeros(1), beta).loss for m in (2, 4)]
    assert sigmoid[1] < sigmoid[0]


def test_answer_log_probs_skip_the_prompt_logits_and_give_the_same_numbers(tokenizer: Any) -> None:
    """logits_to_keep: the model computes logits from the batch's first answer token on, and the summed answer
    log-probabilities equal sequence_log_probs over the full logits (to 1e-5)."""
    model = lora_policy(len(tokenizer), seed=8)
    batch = DPOCollator(tokenizer, max_length=96)(PAIRS)
    seen = []
    handle = model.lm_head.register_forward_hook(lambda module, args, out: seen.append(out.shape[1]))
    with torch.no_grad():
        ours, n_tokens = answer_log_probs(model, batch)
        counted = batch["completion_mask"] * batch["attention_mask"]
        full = sequence_log_probs(model, batch["input_ids"], batch["attention_mask"], counted).total
    handle.remove()
    torch.testing.assert_close(ours, full, atol=1e-5, rtol=1e-5)
    assert torch.equal(n_tokens, counted.sum(dim=1))
    first_answer = int(counted.argmax(dim=1).min())
    assert seen == [batch["input_ids"].shape[1] - first_answer + 1, batch["input_ids"].shape[1]]
    assert first_answer > 10, "the prompt positions (chat template included) are skipped"
    # gradients flow as before
    ours_grad = answer_log_probs(model, batch)[0].sum()
    ours_grad.backward()
    assert any(layer.B.grad is not None and layer.B.grad.abs().sum() > 0 for layer in lora_layers(model).values())


def test_loss_is_log_two_when_policy_equals_reference(tokenizer: Any) -> None:
    torch.manual_seed(0)
    chosen, rejected = -torch.rand(5) * 30, -torch.rand(5) * 30
    out = dpo_loss(chosen, rejected, chosen.clone(), rejected.clone(), beta=0.5)
    assert isinstance(out, DPOLoss) and out.loss.item() == pytest.approx(math.log(2), abs=1e-7)
    assert torch.equal(out.margins, torch.zeros(5)) and out.accuracy == 0.0  # ties count as wrong
    # a fresh adapter (B = 0) is its own reference: the first DPO loss of training is log 2
    model = tiny_llama(len(tokenizer), seed=4)
    add_lora(model, r=2, alpha=4, target_modules=["q_proj"])
    with torch.no_grad():
        loss, _ = DPOLossFn(0.1)(model, DPOCollator(tokenizer)(PAIRS))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)


def test_loss_by_hand_and_its_gradient_direction() -> None:
    beta = 0.5
    policy_chosen = torch.tensor([-10.0, -12.0], requires_grad=True)
    policy_rejected = torch.tensor([-11.0, -9.0], requires_grad=True)
    ref_chosen, ref_rejected = torch.tensor([-11.0, -12.0]), torch.tensor([-11.0, -10.0])
    out = dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)
    margins = beta * torch.tensor([(-10.0 + 11.0) - 0.0, 0.0 - (-9.0 + 10.0)])  # [0.5, -0.5]
    torch.testing.assert_close(out.margins, margins)
    torch.testing.assert_close(out.loss, -torch.nn.functional.logsigmoid(margins).mean())
    out.loss.backward()
    # d loss / d policy_chosen = -beta * sigmoid(-margin) / n: descent raises the chosen answer's log-probability,
    # lowers the rejected one's, and pushes hardest on the pair ranked wrong (margin < 0)
    expected = -beta * torch.sigmoid(-margins) / 2
    torch.testing.assert_close(policy_chosen.grad, expected)
    torch.testing.assert_close(policy_rejected.grad, -expected)
    assert (policy_chosen.grad < 0).all() and (policy_rejected.grad > 0).all()
    assert policy_chosen.grad[1].abs() > policy_chosen.grad[0].abs()
    # the partition function cancels: a constant added to both log-ratios of a pair changes nothing
    shifted = dpo_loss(policy_chosen + 7, policy_rejected + 7, ref_chosen, ref_rejected, beta)
    torch.testing.assert_close(shifted.loss, out.loss)


def test_training_steps_raise_the_margin_of_the_trained_pairs(tokenizer: Any) -> None:
    """A few DPO steps with the course loop: the margin grows and the answers' log-probabilities move apart."""
    from torch.utils.data import DataLoader

    from utils.training.loop import train_model

    model = tiny_llama(len(tokenizer), seed=5)
    add_lora(model, r=4, alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    collate = DPOCollator(tokenizer)
    loss_fn = DPOLossFn(0.5)
    loader = DataLoader(PAIRS, batch_size=len(PAIRS), collate_fn=collate)
    train_model(
        model, loader, loader, loss_fn=loss_fn, steps=4, lr=5e-2, weight_decay=0.0, eval_every=4, progress=False
    )
    before, after = loss_fn.eval_log[0], loss_fn.eval_log[-1]
    assert before["margin"] == 0.0 and before["loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert after["margin"] > 0.0 and after["loss"] < before["loss"] and after["accuracy"] == 1.0
    assert len(loss_fn.train_log) == 4
    with torch.no_grad(), disable_lora(model):  # the reference did not move
        ref = preference_log_probs(model, tokenizer, PAIRS)
        base = preference_log_probs(tiny_llama(len(tokenizer), seed=5), tokenizer, PAIRS)
    torch.testing.assert_close(ref, base)


def test_preference_log_probs_equal_scoring_each_answer_alone(tokenizer: Any) -> None:
    model = tiny_llama(len(tokenizer), seed=6)
    with torch.no_grad():
        chosen, rejected = preference_log_probs(model, tokenizer, PAIRS, batch_size=2)
        for i, pair in enumerate(PAIRS):
            for side, got in (("chosen", chosen[i]), ("rejected", rejected[i])):
                ex = tokenize_example(tokenizer, {"instruction": pair["prompt"], "input": "", "output": pair[side]})
                ids, mask = torch.tensor([ex["input_ids"]]), torch.tensor([ex["completion_mask"]])
                alone = sequence_log_probs(model, ids, None, mask).total[0]
                torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5)
    assert chosen.shape == rejected.shape == (len(PAIRS),) and (chosen < 0).all()


def test_collator_layout_and_masks(tokenizer: Any) -> None:
    batch = DPOCollator(tokenizer, max_length=96)(PAIRS)
    n = len(PAIRS)
    assert batch["input_ids"].shape[0] == 2 * n
    lengths = batch["attention_mask"].sum(dim=1)
    for i, pair in enumerate(PAIRS):
        for row, side in ((i, "chosen"), (n + i, "rejected")):
            answer = batch["input_ids"][row][batch["completion_mask"][row].bool()]
            assert pair[side] in tokenizer.decode(answer)
            assert (
                batch["attention_mask"][row, : lengths[row]].all()
                and not batch["attention_mask"][row, lengths[row] :].any()
            )
    assert not (batch["completion_mask"] * (1 - batch["attention_mask"])).any(), "padding is never counted"


def test_train_save_and_load_the_dpo_policy(tokenizer: Any, tmp_path, monkeypatch) -> None:
    """The cache path of `load_dpo_policy`, on a tiny model standing in for SmolLM2."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(dpo, "load_chat_model", lambda device=None: (tiny_llama(len(tokenizer), seed=7), tokenizer))
    recipe = replace(DPO_RECIPE.smoke(), lr=1e-2, lora_r=2, lora_alpha=4.0, max_length=128)
    with pytest.raises(FileNotFoundError, match="notebook 14"):
        load_dpo_policy(recipe, train_if_missing=False)
    with pytest.raises(FileNotFoundError, match="dpo-policy"):
        dpo_training_info(recipe)
    splits = []
    real_rows = dpo.preference_rows
    monkeypatch.setattr(
        dpo, "preference_rows", lambda split, *a, **k: splits.append(split) or real_rows(split, *a, **k)
    )
    model, _, history, loss_fn = train_dpo(recipe, progress=False)
    assert splits == ["train", "validation"], "validation pairs come from held-out training movies, never test"
    assert len(history.train_loss) == recipe.steps and len(loss_fn.train_log) == recipe.steps
    assert history.val_loss[0] == pytest.approx(math.log(2), abs=1e-6)  # step 0: policy = reference
    folder = save_dpo_policy(model, recipe, history)
    assert folder == dpo_policy_dir(recipe) and folder.parent == tmp_path and dpo.DPO_NAME in folder.name
    assert dpo_training_info(recipe)["history"]["seconds"] == history.seconds
    loaded, _ = load_dpo_policy(recipe, train_if_missing=False)
    for key, value in lora_state_dict(model).items():
        torch.testing.assert_close(lora_state_dict(loaded)[key], value)
    with pytest.raises(ValueError, match="both"):
        train_dpo(recipe, model=model)
    # missing and train_if_missing: trained on the fly and cached
    other = replace(recipe, seed=1)
    load_dpo_policy(other, progress=False)
    assert (dpo_policy_dir(other) / dpo.INFO_FILE).is_file()


def test_recipes_have_their_own_cache_folders() -> None:
    assert dpo_policy_dir(DPO_RECIPE) != dpo_policy_dir(DPO_RECIPE.smoke())
    assert dpo_policy_dir(replace(DPO_RECIPE)) == dpo_policy_dir(DPO_RECIPE)
    assert DPO_RECIPE.smoke().steps < DPO_RECIPE.steps


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: DPORecipe(steps=0), ValueError, "steps"),
        (lambda: DPORecipe(beta=-0.1), ValueError, "beta"),
        (lambda: DPORecipe(lora_targets=["q_proj"]), TypeError, "lora_targets"),
        (lambda: DPORecipe(batch_size=2.5), TypeError, "batch_size"),
        (lambda: DPORecipe(warmup_steps=40), ValueError, "warmup_steps"),
        (lambda: DPORecipe(n_val=-1), ValueError, "n_val"),
        (lambda: DPORecipe(loss_type="hinge"), ValueError, "loss_type"),
        (lambda: DPOLossFn(0.1, loss_type="IPO"), ValueError, r"loss_type.*sigmoid.*ipo"),
        (lambda: dpo_loss(*torch.zeros(4, 2), 0.1, loss_type="simpo"), ValueError, "loss_type"),
        (lambda: dpo_loss(*torch.zeros(4, 2), 0.1, loss_type="ipo"), ValueError, "chosen_lengths"),
        (lambda: dpo_policy_dir({"steps": 1}), TypeError, "recipe"),
        (lambda: load_dpo_policy(train_if_missing="no"), TypeError, "train_if_missing"),
    ],
)
def test_bad_arguments_are_refused(call, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        call()


def test_bad_pairs_and_batches_are_refused(tokenizer: Any) -> None:
    model = tiny_llama(len(tokenizer))
    with pytest.raises(ValueError, match="rows"):
        preference_log_probs(model, tokenizer, [])
    with pytest.raises(ValueError, match=r"rows.*rejected"):
        preference_log_probs(model, tokenizer, [PAIRS[0], {"prompt": "p", "chosen": "c"}])
    with pytest.raises(ValueError, match="rows"):
        preference_log_probs(model, tokenizer, PAIRS[0])  # one pair, not a list of them
    with pytest.raises(ValueError, match="LoRA"):  # no adapter: no reference to switch to
        DPOLossFn(0.1)(model, DPOCollator(tokenizer)(PAIRS))
