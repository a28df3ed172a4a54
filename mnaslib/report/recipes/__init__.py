"""Recipes: one module per paper artefact (tables 1-6, figures 5-6), each with what it runs, its tables and the
claims it feeds; notebooks call these and display what they return."""
