"""What each notebook's prose claims, checked on its full-mode run by `scripts/run_notebooks.py` (so `make run` fails
when a claim stops holding, e.g. after a library upgrade or a changed recipe).

The smoke-mode table (tests/notebook_expectations.py) only catches a broken notebook: its sizes are too small for the
results to mean anything. This table states the findings themselves, as relations between recorded values ("the
fine-tuned classifier beats the probe", "our loss equals TRL's"), never as a copied number. Each numbered notebook
has at least two claims (tests/test_notebook_claims.py checks this and that a broken claim fails a run).

The rule language (`between`, `greater_than`, `less_than`, `equals`, `all_of`, `Rule`) is scripts/expectations.py.
The comment above each entry says which full-mode run the claims were checked against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from scripts.expectations import Expectation, Rule, all_of, between, check_table, equals, greater_than, less_than

EXACT = 1e-5  # "equal to the reference library": float32 rounding only


def close_to(other: str, tolerance: float) -> Rule:
    """The value is within `tolerance` of the recorded value `other`."""
    return Rule(f"within {tolerance} of {other}", lambda value, records: abs(value - records[other]) <= tolerance)


FULL_MODE_CLAIMS: dict[str, dict[str, Expectation]] = {
    # Claims from the notebooks' prose; 00-07 written from their code and smoke runs (a full run confirms them).
    "00-start-here": {
        "missing_pieces": equals(0),
        "encoder_similarity_related": greater_than("encoder_similarity_unrelated", 0.2),
    },
    "01-tokenization": {
        "bpe_roundtrip_ok": equals(True),
        "bpe_vs_hf_compression": between(0.95, 1.05),  # our BPE and HF tokenizers learn the same merges
        "tokens_per_word_bytes": greater_than("tokens_per_word_largest_vocab", 1.0),
    },
    "02-embeddings-and-positional-encoding": {
        "cos_teacher_student": greater_than("cos_teacher_banana", 0.2),
        "pe_rotation_max_error": between(0.0, EXACT),
        "rope_vs_transformers_max_diff": between(0.0, EXACT),
        "pe_dot_offset_1": greater_than("pe_dot_far_mean"),
    },
    "03-self-attention": {
        "sdpa_max_diff": between(0.0, EXACT),
        "mha_max_diff": between(0.0, EXACT),
        "saturation_max_weight_unscaled": greater_than("saturation_max_weight_scaled", 0.3),
        "causal_future_weight": equals(0),
    },
    "04-transformer-architectures": {
        "decoder_block_future_change": between(0.0, 1e-6),
        "mlm_loss_end": less_than("mlm_loss_start", 0.5),
        "t5_loss_end": less_than("t5_loss_start", 0.5),
        "llama_max_logit_diff": between(0.0, 1e-3),
        "greedy_tokens_agree": equals(True),
    },
    "05-decoding-strategies": {
        "greedy_matches_generate": equals(True),
        "beam_matches_generate": equals(True),
        "sample_matches_generate": equals(True),
        "most_likely_is_deterministic": equals(True),
        # temperature reshapes one distribution: sharper below 1, flatter above
        "top1_prob_t05": all_of(greater_than("top1_prob"), greater_than("top1_prob_t15")),
        "top_p_09_kept": greater_than("top_p_05_kept"),
    },
    "06-prompting-and-in-context-learning": {
        "generation_zero_shot_accuracy": Rule(
            "<= 1 - generation_zero_shot_unparsed", lambda v, r: v <= 1 - r["generation_zero_shot_unparsed"] + 1e-9
        ),
        "best_few_shot_accuracy_mean": greater_than("worst_few_shot_draw", -1e-9),
    },
    "07-pretraining-a-small-gpt": {
        "final_val_loss": less_than("initial_val_loss", 1.0),
        "val_perplexity": Rule("== exp(final_val_loss)", lambda v, r: abs(math.log(v) - r["final_val_loss"]) < 1e-4),
        "reload_max_logit_diff": between(0.0, EXACT),
    },
    # 08-11: checked against the full runs of 2026-11-24 (build/full1, quiet machine for 08 and 09).
    "08-fine-tuning-for-classification": {
        "two_shot_accuracy": greater_than("majority_accuracy", 0.1),
        "finetuned_accuracy": greater_than("probe_accuracy"),
        "gpt_accuracy": greater_than("gpt_accuracy_start"),
        "finetune_val_loss_end": less_than("finetune_val_loss_start"),
        "probe_curve_last": greater_than("probe_curve_first"),
    },
    "09-instruction-fine-tuning": {
        "sft_loss_vs_trl": between(0.0, 1e-4),
        "sft_val_loss_end": less_than("sft_val_loss_start"),
        "rouge_l_gain_low": between(0.0, None),  # the gain's 95% interval excludes zero
        "austen_ppl_after": less_than("austen_ppl_before"),
    },
    "10-lora-and-peft": {
        "peft_max_abs_diff": between(0.0, EXACT),
        "lora_peak_mib": less_than("full_peak_mib"),
        "lora_heldout_loss": all_of(less_than("base_heldout_loss"), greater_than("full_heldout_loss")),
        "loss_definition_adapter_on_definition": less_than("loss_example_adapter_on_definition"),
        "loss_example_adapter_on_example": less_than("loss_definition_adapter_on_example"),
    },
    "11-evaluating-llms": {
        "rouge_max_diff": between(0.0, 1e-9),
        "bleu_max_diff": between(0.0, 1e-9),
        "mc_smollm2_low": greater_than("mc_chance"),  # SmolLM2 knows definitions: its interval is above chance
        "mc_minilm": greater_than("mc_smollm2"),
        "judge_consistency": between(0.0, 0.5),  # the judge follows the position, not the answer
        "stereotype_gap_low": between(0.0, None),
    },
    # 12-14: checked against the quiet full runs of 2026-11-25 (build/full-quiet).
    "12-reward-models": {
        "accuracy_after": between(0.8, 1.0),
        "accuracy_after_low": greater_than("accuracy_before"),
        "val_loss_last": less_than("val_loss_first"),
        "trl_loss_difference": between(0.0, EXACT),
    },
    "13-rlhf-with-ppo": {
        "reward_gain": greater_than("before_reward_sem"),  # more than the spread of the before-mean
        "after_kl_mean": between(None, 10.0),  # the KL budget the notebook states
        "sweep_tight_kl_last": less_than("sweep_loose_kl_last"),
        "gae_max_abs_error": between(0.0, EXACT),
    },
    "14-direct-preference-optimization": {
        "dpo_vs_trl_abs_diff": between(0.0, EXACT),
        "heldout_accuracy_after": greater_than("heldout_accuracy_before"),
        "dpo_reward": greater_than("base_reward"),
        "dpo_val_loss_end": less_than("dpo_val_loss_start"),
    },
}


def check_claims(stem: str, records: Mapping[str, Any]) -> list[str]:
    """Broken claims of notebook `stem`'s full-mode run; an empty list means every claim holds."""
    return check_table(FULL_MODE_CLAIMS, stem, records, where="FULL_MODE_CLAIMS in scripts/notebook_claims.py")
