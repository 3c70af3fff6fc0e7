"""Execution: how decisions become orders (paired legs with automatic hedge, later algorithms and routing)."""
