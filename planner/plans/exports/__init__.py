"""Pure renderers from plan decisions to autoscaler configuration (no Django)."""
