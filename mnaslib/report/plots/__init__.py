"""Figure helpers: the reproduction's styles (``paper`` and ``talk``), reward curves, Pareto plots, iso-reward
lines, labels that keep apart, saving (``core``), and the paper's figures as we reproduce them (``figures``)."""
from mnaslib.report.plots.core import (FIGURE_DPI, STYLES, annotate_apart, current_style, draw_architecture,
                                       figure_style, label_provenance, legend_outside, plot_hard_vs_soft,
                                       plot_iso_reward, plot_pareto, plot_reward_curve, plot_reward_families,
                                       plot_tradeoff, save_figure, use_style)

__all__ = ["FIGURE_DPI", "STYLES", "annotate_apart", "current_style", "draw_architecture", "figure_style",
           "label_provenance", "legend_outside", "plot_hard_vs_soft", "plot_iso_reward", "plot_pareto",
           "plot_reward_curve", "plot_reward_families", "plot_tradeoff", "save_figure", "use_style"]
