"""digitwatch.training: data loading, model recipes, fit, publish, evaluate."""
