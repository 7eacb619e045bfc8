"""The fleet scorecard: injected faults vs. the incidents and root causes the pipeline found."""
