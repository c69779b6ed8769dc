"""Services: every rule and state change, one module per concept."""
