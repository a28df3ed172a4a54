"""Figure helpers: the reproduction's one style, reward curves, Pareto plots, iso-reward lines, saving
(``core``), and the paper's figures as we reproduce them (``figures``)."""
from mnaslib.plots.core import (FIGURE_DPI, draw_architecture, label_provenance, plot_hard_vs_soft, plot_iso_reward,
                                plot_pareto, plot_reward_curve, plot_tradeoff, save_figure, use_style)

__all__ = ["FIGURE_DPI", "draw_architecture", "label_provenance", "plot_hard_vs_soft", "plot_iso_reward",
           "plot_pareto", "plot_reward_curve", "plot_tradeoff", "save_figure", "use_style"]
