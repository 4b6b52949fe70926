"""Forecasting of cost and demand series (pure Python, no Django)."""
