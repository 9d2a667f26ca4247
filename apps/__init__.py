"""Applications built on the course's `utils`: `apps.qa_bot` is the question-answering app of notebook 15
(`make app`)."""
