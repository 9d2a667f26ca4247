"""Using a causal LM: `decoding` (greedy, sampling, beam search; 05), `scoring` (log-probabilities of chosen
tokens; 05-06, 12-14), `prompting` (few-shot classification; 06) and `chat` (00, 06)."""
