"""Banking account opening: name and address checks in parallel, then approval (JSONata + variables)."""
