"""Training: one run (the loop), the schedule's runs, the events a run reports, where it runs."""
