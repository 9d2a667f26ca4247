"""The transformer from scratch, in the order the course builds it: `tokenizer` (01), `positional` and
`embeddings` (02), `attention` (03), `blocks`, `gpt`, `llama` and the model protocol `outputs` (04), `padding`
(06, 08)."""
