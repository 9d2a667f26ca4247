"""What the course runs on, offline: the datasets in `data/` (`datasets`, the one table of them), the pip packages
that ship models and data (`packages`) and the model loaders with their cache (`models`)."""
