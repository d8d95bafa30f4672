"""Planning a training before it runs: the sizes, auto's rule, the cost estimate and admission, the planner."""
