"""The course's shared helpers. Notebooks do `from utils import ...`; each concept lives in its own module."""

from .checks import check_answer, compare
from .device import get_device
from .plotting import new_figure, plot_heatmap, plot_loss_curves
from .reproducibility import set_seed
from .runtime import by_mode, read_records, record, smoke_mode

__all__ = [
    "by_mode",
    "check_answer",
    "compare",
    "get_device",
    "new_figure",
    "plot_heatmap",
    "plot_loss_curves",
    "read_records",
    "record",
    "set_seed",
    "smoke_mode",
]
