"""Course machinery, not LLM code: run-time switches and recorded results (`runtime`), exercise grading
(`grading`), argument checks (`arguments`), seeding, the compute device, the environment report, plot helpers
and concept diagrams."""
