"""The course's shared package. Notebooks import the everyday names from here and everything else from the module
that teaches it (`from utils.transformer.gpt import GPT`), so the import line says which file to open.

    course/      course machinery: run-time switches, exercise grading, seeding, device, environment, plots, diagrams
    assets/      offline datasets (the one table) and offline models
    transformer/ tokenizer, positional encodings, attention, blocks, GPT, Llama, sentence embeddings
    generation/  decoding, scoring (sequence log-probabilities), prompting, chat
    training/    the training loop, pretraining + checkpoints + the Austen recipe, classification, instruction tuning,
                 LoRA, soft prompts, n-gram LM, token classification
    evaluation/  classification metrics, text and overlap metrics (ROUGE, BLEU), likelihood, uncertainty
    alignment/   reward models, PPO, DPO (week 4)
    retrieval/   documents, embeddings index, lexical baseline, retrieval-augmented prompts (week 5)
    agents/      tool schemas, tools and the ReAct-style loop (week 5)
    inference/   KV cache, quantisation, memory at scale, distributed training, model versions (week 5)
    exercises/   the exercises' checkers, one module per week (`week0` for notebook 00 ... `week5` for 15-17); the
                 top floor: it may import every package above, and none of them imports it

`utils/README.md` maps every module to the notebook that teaches it.
"""

from .course.device import get_device
from .course.grading import check_answer, compare
from .course.quiet import quiet_known_library_noise
from .course.runtime import by_mode, record, smoke_mode
from .course.seeding import set_seed

quiet_known_library_noise()  # torchao's kernel-loading warnings under every model load: see utils/course/quiet.py

__all__ = ["by_mode", "check_answer", "compare", "get_device", "record", "set_seed", "smoke_mode"]
