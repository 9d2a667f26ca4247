"""Retrieval: documents, sentence-embedding search, retrieval-augmented prompts. Taught in notebook 16; the Q&A app
of notebook 15 builds on it.

    documents.py   `Document`, `package_documents` (Debian package descriptions), `package_questions`
    index.py       `embed_documents` (MiniLM, cached on disk), `VectorIndex` (exact top-k in torch), `Hit`
    lexical.py     `BM25Index`, the word-overlap baseline with the same `search`
    evaluation.py  `recall_at_k`, `mean_reciprocal_rank`
    rag.py         `build_rag_messages`, `format_sources`, `cited_sources`
"""
